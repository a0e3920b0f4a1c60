"""The segment rules for secret keys (reader) and relative paths inside ``output_dir`` (agent).

A path is ``segment("/"segment)*``. A segment matches ``[A-Za-z0-9_.@+=-]+``, is not ``.`` or
``..`` and does not start with ``.`` (dot names belong to the agent: ``.status.json`` and
temporary files). At most ``MAX_SEGMENT_BYTES`` a segment and ``MAX_PATH_BYTES`` a path. So a
valid path can never be absolute, climb out of its directory, or name one of the agent's files.

``path_problem`` and ``segment_problem`` return why a name breaks the rules, as a phrase that
follows the name's description ("secret key 'a//b' has an empty segment"), or None. They never
repeat the name, so each caller words the subject its own way.
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


__all__ = ["MAX_PATH_BYTES", "MAX_SEGMENT_BYTES", "VALID_PATH", "path_problem", "segment_problem"]
