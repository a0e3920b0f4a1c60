"""Secret key validation: the one gate every key passes before any I/O.

A key is ``segment("/"segment)*`` under the segment rules of ``_core.paths`` (shared with the
agent's paths inside ``output_dir``): a segment matches ``[A-Za-z0-9_.@+=-]+``, is not ``.`` or
``..`` and does not start with ``.``; at most 255 bytes a segment and 1024 a key. The last
segment is the *field*, the rest the *secret path*.

The aws backend also takes ``SECRET_ID[#FIELD]`` (``_core.paths``): a secret name starting with
``/``, a secret ARN, or any name followed by ``#FIELD``; the secret path is then the secret id
exactly as written and the field is "" when the key names the whole value. Other backends refuse
these keys with a message saying they are AWS-only.
"""

from __future__ import annotations

from ._core.paths import (
    MAX_PATH_BYTES,
    MAX_SEGMENT_BYTES,
    VALID_PATH,
    aws_default_target,
    aws_key_parts,
    aws_key_problem,
    is_aws_secret_id_key,
    path_problem,
)
from .errors import InvalidSecretKeyError

MAX_KEY_BYTES = MAX_PATH_BYTES


def _describe(value: str) -> str:
    """A short, safe description of a rejected key (keys are names, not secret values)."""
    shown = value if len(value) <= 120 else value[:117] + "..."
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


def validate_key(key: str, backend: str = "") -> tuple[str, str]:
    """Validate ``key`` for ``backend`` and split it into ``(secret_path, field)``.

    ``"alpaca/api_key_id"`` -> ``("alpaca", "api_key_id")``; a one-segment key has an empty
    secret path: ``"token"`` -> ``("", "token")``. For ``backend="aws"`` only,
    ``"/prod/db#password"`` -> ``("/prod/db", "password")`` and ``"/prod/db"`` ->
    ``("/prod/db", "")`` (see ``is_secret_id_key``). Raises ``InvalidSecretKeyError``.
    """
    if type(key) is str and len(key) <= MAX_KEY_BYTES and VALID_PATH.fullmatch(key):
        secret_path, _, field = key.rpartition("/")
        return secret_path, field
    if not isinstance(key, str) or not is_aws_secret_id_key(key):
        validate_relative_path(key)
        raise AssertionError("unreachable: a valid relative path matches VALID_PATH")
    if backend == "aws":
        problem = aws_key_problem(key)
        if problem is not None:
            raise InvalidSecretKeyError(f"secret key {_describe(key)} {problem}")
        return aws_key_parts(key)
    which = f", not the {backend} backend" if backend else ""
    raise InvalidSecretKeyError(
        f"secret key {_describe(key)} {path_problem(key) or 'is not a valid key'} (an ARN, a "
        f"name starting with '/' or NAME#FIELD is an AWS secret id: only the aws backend takes "
        f"one{which})"
    )


def is_secret_id_key(key: str) -> bool:
    """Whether ``key`` (already validated for the aws backend) names its secret exactly
    (``SECRET_ID[#FIELD]``) rather than as ``path/field`` with a whole-secret fallback."""
    return is_aws_secret_id_key(key)


def agent_file_of(key: str) -> str | None:
    """The relative path of the agent's file for a validated ``key``, or None if there can be
    none: a plain key is its own file; ``SECRET_ID#FIELD`` is the agent's default target for
    the secret id, then the field (``/prod/db#password`` -> ``prod/db/password``)."""
    if VALID_PATH.fullmatch(key):
        return key
    secret_id, field = aws_key_parts(key)
    name = aws_default_target(secret_id) + (f"/{field}" if field else "")
    return name if path_problem(name) is None else None


__all__ = [
    "MAX_KEY_BYTES",
    "MAX_SEGMENT_BYTES",
    "agent_file_of",
    "is_secret_id_key",
    "validate_key",
    "validate_relative_path",
]
