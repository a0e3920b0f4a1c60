"""Secret key validation: the one gate every key passes before any I/O.

A key is ``segment("/"segment)*`` under the segment rules of ``_core.paths`` (shared with the
agent's paths inside ``output_dir``): a segment matches ``[A-Za-z0-9_.@+=-]+``, is not ``.`` or
``..`` and does not start with ``.``; at most 255 bytes a segment and 1024 a key. The last
segment is the *field*, the rest the *secret path*.
"""

from __future__ import annotations

from ._core.paths import MAX_PATH_BYTES, MAX_SEGMENT_BYTES, VALID_PATH, path_problem
from .errors import InvalidSecretKeyError

MAX_KEY_BYTES = MAX_PATH_BYTES


def _describe(value: str) -> str:
    """A short, safe description of a rejected key (keys are names, not secret values)."""
    shown = value if len(value) <= 80 else value[:77] + "..."
    return repr(shown)


def validate_relative_path(path: str) -> None:
    """Check that ``path`` is a safe relative path made of valid segments.

    Raises ``InvalidSecretKeyError`` for anything else: empty, absolute, backslashes, NUL or
    control characters, ``.``/``..`` or dot-prefixed segments, empty segments, overlong names.
    """
    if type(path) is str and len(path) <= MAX_KEY_BYTES and VALID_PATH.fullmatch(path):
        return
    if not isinstance(path, str):
        raise InvalidSecretKeyError(f"secret key must be a str, not {type(path).__name__}")
    problem = path_problem(path) or "is not a valid key"
    raise InvalidSecretKeyError(f"secret key {_describe(path)} {problem}")


def validate_key(key: str) -> tuple[str, str]:
    """Validate ``key`` and split it into ``(secret_path, field)``.

    ``"alpaca/api_key_id"`` -> ``("alpaca", "api_key_id")``; a one-segment key has an empty
    secret path: ``"token"`` -> ``("", "token")``. Raises ``InvalidSecretKeyError``.
    """
    validate_relative_path(key)
    secret_path, _, field = key.rpartition("/")
    return secret_path, field


__all__ = ["MAX_KEY_BYTES", "MAX_SEGMENT_BYTES", "validate_key", "validate_relative_path"]
