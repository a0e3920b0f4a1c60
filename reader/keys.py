"""Secret key validation: the one gate every key passes before any I/O.

A key is ``segment("/"segment)*``. A segment matches ``[A-Za-z0-9_.@+=-]+``, is not ``.`` or
``..`` and does not start with ``.`` (dot names belong to the agent). A segment is at most 255
bytes and a key at most 1024. The last segment is the *field*, the rest the *secret path*.
"""

from __future__ import annotations

import re

from .errors import InvalidSecretKeyError

MAX_SEGMENT_BYTES = 255
MAX_KEY_BYTES = 1024

_SEGMENT = re.compile(r"[A-Za-z0-9_@+=-][A-Za-z0-9_.@+=-]*")
# A whole valid key in one match (the characters are ASCII, so characters are bytes): the
# common case costs one regex call; anything it rejects gets the segment-by-segment diagnosis.
_VALID_PATH = re.compile(
    r"[A-Za-z0-9_@+=-][A-Za-z0-9_.@+=-]{0,254}(?:/[A-Za-z0-9_@+=-][A-Za-z0-9_.@+=-]{0,254})*"
)


def _describe(value: str) -> str:
    """A short, safe description of a rejected key (keys are names, not secret values)."""
    shown = value if len(value) <= 80 else value[:77] + "..."
    return repr(shown)


def validate_relative_path(path: str) -> None:
    """Check that ``path`` is a safe relative path made of valid segments.

    Raises ``InvalidSecretKeyError`` for anything else: empty, absolute, backslashes, NUL or
    control characters, ``.``/``..`` or dot-prefixed segments, empty segments, overlong names.
    """
    if type(path) is str and len(path) <= MAX_KEY_BYTES and _VALID_PATH.fullmatch(path):
        return
    if not isinstance(path, str):
        raise InvalidSecretKeyError(f"secret key must be a str, not {type(path).__name__}")
    if not path:
        raise InvalidSecretKeyError("secret key must not be empty")
    try:
        encoded_length = len(path.encode("utf-8"))
    except UnicodeEncodeError:
        raise InvalidSecretKeyError("secret key is not encodable as UTF-8") from None
    if encoded_length > MAX_KEY_BYTES:
        raise InvalidSecretKeyError(f"secret key is longer than {MAX_KEY_BYTES} bytes")
    if path.startswith("/"):
        raise InvalidSecretKeyError(f"secret key {_describe(path)} must be relative")
    for segment in path.split("/"):
        if not segment:
            raise InvalidSecretKeyError(f"secret key {_describe(path)} has an empty segment")
        if segment.startswith("."):
            raise InvalidSecretKeyError(
                f"secret key {_describe(path)}: segments must not start with '.'"
            )
        if _SEGMENT.fullmatch(segment) is None:
            raise InvalidSecretKeyError(
                f"secret key {_describe(path)}: segments may only contain "
                "letters, digits and _ . @ + = -"
            )
        if len(segment) > MAX_SEGMENT_BYTES:
            raise InvalidSecretKeyError(
                f"secret key {_describe(path)}: a segment is longer than {MAX_SEGMENT_BYTES} bytes"
            )


def validate_key(key: str) -> tuple[str, str]:
    """Validate ``key`` and split it into ``(secret_path, field)``.

    ``"alpaca/api_key_id"`` -> ``("alpaca", "api_key_id")``; a one-segment key has an empty
    secret path: ``"token"`` -> ``("", "token")``. Raises ``InvalidSecretKeyError``.
    """
    validate_relative_path(key)
    secret_path, _, field = key.rpartition("/")
    return secret_path, field


__all__ = ["MAX_KEY_BYTES", "MAX_SEGMENT_BYTES", "validate_key", "validate_relative_path"]
