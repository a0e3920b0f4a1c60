"""The segment rules for secret keys (reader) and relative paths inside ``output_dir`` (agent).

A path is ``segment("/"segment)*``. A segment matches ``[A-Za-z0-9_.@+=-]+``, is not ``.`` or
``..`` and does not start with ``.`` (dot names belong to the agent: ``.status.json`` and
temporary files). At most ``MAX_SEGMENT_BYTES`` a segment and ``MAX_PATH_BYTES`` a path. So a
valid path can never be absolute, climb out of its directory, or name one of the agent's files.

``path_problem`` and ``segment_problem`` return why a name breaks the rules, as a phrase that
follows the name's description ("secret key 'a//b' has an empty segment"), or None. They never
repeat the name, so each caller words the subject its own way.

The AWS secret-id rules (names with a leading "/", ARNs, ``SECRET_ID#FIELD`` keys) follow below.
"""

from __future__ import annotations

import re

MAX_SEGMENT_BYTES = 255
MAX_PATH_BYTES = 1024

_SEGMENT_CHARACTERS = re.compile(r"[A-Za-z0-9_.@+=-]+")
# A whole valid path in one match (the characters are ASCII, so characters are bytes).
VALID_PATH = re.compile(
    r"[A-Za-z0-9_@+=-][A-Za-z0-9_.@+=-]{0,254}(?:/[A-Za-z0-9_@+=-][A-Za-z0-9_.@+=-]{0,254})*"
)


def segment_problem(segment: str) -> str | None:
    """Why ``segment`` is not a valid path segment, or None."""
    if not segment:
        return "has an empty segment"
    if segment.startswith("."):
        return "has a segment starting with '.' (dot names belong to the agent)"
    if _SEGMENT_CHARACTERS.fullmatch(segment) is None:
        return "has a segment with characters other than letters, digits and _ . @ + = -"
    if len(segment) > MAX_SEGMENT_BYTES:
        return f"has a segment longer than {MAX_SEGMENT_BYTES} bytes"
    return None


def path_problem(path: str) -> str | None:
    """Why ``path`` is not a valid relative path made of valid segments, or None."""
    if len(path) <= MAX_PATH_BYTES and VALID_PATH.fullmatch(path):
        return None
    if not path:
        return "must not be empty"
    try:
        size = len(path.encode("utf-8"))
    except UnicodeEncodeError:
        return "is not encodable as UTF-8"
    if size > MAX_PATH_BYTES:
        return f"is longer than {MAX_PATH_BYTES} bytes"
    if path.startswith("/"):
        return "must be relative, not absolute"
    for segment in path.split("/"):
        problem = segment_problem(segment)
        if problem is not None:
            return problem
    return None


# -- AWS secret ids in keys and agent paths ---------------------------------------------------
#
# Secrets Manager also names a secret by a name starting with "/" ("/prod/db") or by its ARN
# ("arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-AbCdEf", the only way to reach
# a secret of another account). Neither fits the segment rules, so a reader key that uses one
# names the field after "#": "/prod/db#password", "arn:...:secret:prod/db-AbCdEf#password"; no
# "#" means the whole value. AWS forbids "#" and ":" in names, so the split is unambiguous, and
# "NAME#FIELD" works for any name. Such keys are AWS-only: the env, file and vault backends
# refuse them. The agent's file for such a secret is ``aws_default_target``: the name without
# its leading "/" (for an ARN, the name after ":secret:", its random suffix included).

FIELD_SEPARATOR = "#"
MAX_AWS_NAME = 512
MAX_AWS_SECRET_ID = 2048
# Patterns, not compiled objects: ``re`` compiles them on first use (only AWS keys need them),
# which keeps ``import libs.secrets`` light.
_AWS_NAME = r"[A-Za-z0-9/_+=.@-]{1,512}"
_ARN = (
    r"arn:(aws[a-z-]*):secretsmanager:([a-z0-9-]+):([0-9]{12}):secret:"
    r"([A-Za-z0-9/_+=.@-]{1,512})"
)
ARN_FORM = "arn:PARTITION:secretsmanager:REGION:ACCOUNT:secret:NAME"


def is_aws_secret_id_key(key: str) -> bool:
    """Whether ``key`` uses the AWS secret-id form (an ARN, a leading "/", or "#FIELD")."""
    return key.startswith(("/", "arn:")) or FIELD_SEPARATOR in key


def aws_secret_id_problem(secret_id: str) -> str | None:
    """Why ``secret_id`` is not a Secrets Manager name or secret ARN, or None."""
    if secret_id.startswith("arn:"):
        if len(secret_id) > MAX_AWS_SECRET_ID or re.fullmatch(_ARN, secret_id) is None:
            return f"is not a Secrets Manager secret ARN ({ARN_FORM})"
        return None
    if not secret_id:
        return "has an empty secret name"
    if len(secret_id) > MAX_AWS_NAME:
        return f"has a secret name longer than {MAX_AWS_NAME} characters"
    if re.fullmatch(_AWS_NAME, secret_id) is None:
        return "has a secret name with characters other than letters, digits and / _ + = . @ -"
    return None


def aws_key_parts(key: str) -> tuple[str, str]:
    """``(secret_id, field)`` of an AWS secret-id key; the field is "" for the whole value."""
    secret_id, _, field = key.partition(FIELD_SEPARATOR)
    return secret_id, field


def aws_key_problem(key: str) -> str | None:
    """Why ``key`` is not a valid AWS secret-id key (``SECRET_ID[#FIELD]``), or None."""
    secret_id, separator, field = key.partition(FIELD_SEPARATOR)
    problem = aws_secret_id_problem(secret_id)
    if problem is not None:
        return problem
    if separator and not field:
        return f"has an empty field after {FIELD_SEPARATOR!r}"
    if field:
        problem = segment_problem(field)
        if problem is not None:
            detail = problem.removeprefix("has ")
            return f"has an invalid field after {FIELD_SEPARATOR!r} ({detail})"
    return None


def arn_region(secret_id: str) -> str | None:
    """The region of a secret ARN; None for a name (or anything that is not a secret ARN)."""
    match = re.fullmatch(_ARN, secret_id)
    return match.group(2) if match is not None else None


def arn_region_problem(
    secret_id: str, region: str | None, *, source: str = "the configured region"
) -> str | None:
    """Why the ARN ``secret_id`` cannot be read through a client of ``region`` (named
    ``source`` in the message), or None.

    Secrets Manager serves a secret only from its own region, so an ARN of another region
    would only ever be "not found".
    """
    wanted = arn_region(secret_id)
    if wanted is None or region is None or wanted == region:
        return None
    return (
        f"is an ARN in region {wanted!r}, but {source} is {region!r} "
        "(Secrets Manager serves a secret only from its own region)"
    )


def aws_default_target(secret_id: str) -> str:
    """The file an AWS secret id maps to: its name without leading "/" (for an ARN, the name
    after ":secret:"). Not necessarily a valid relative path: check with ``path_problem``."""
    match = re.fullmatch(_ARN, secret_id)
    name = match.group(4) if match is not None else secret_id
    return name.lstrip("/")


__all__ = [
    "ARN_FORM",
    "FIELD_SEPARATOR",
    "MAX_PATH_BYTES",
    "MAX_SEGMENT_BYTES",
    "VALID_PATH",
    "arn_region",
    "arn_region_problem",
    "aws_default_target",
    "aws_key_parts",
    "aws_key_problem",
    "aws_secret_id_problem",
    "is_aws_secret_id_key",
    "path_problem",
    "segment_problem",
]
