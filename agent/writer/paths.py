"""Rules for names inside ``output_dir``: the same segment rules as the reader's secret keys.

A relative path is ``segment("/"segment)*``; a segment matches ``[A-Za-z0-9_.@+=-]+``, is not
``.`` or ``..`` and does not start with ``.`` (dot names belong to the agent: ``.status.json``
and temporary files). At most 255 bytes a segment and 1024 a path. So a valid relative path can
never be absolute, traverse upwards, or name one of the agent's own files.

The reader's ``libs.secrets.keys.validate_relative_path`` decides; this module adds the
wording used in config errors (without repeating the path).
"""

from __future__ import annotations

import re

from libs.secrets.errors import InvalidSecretKeyError
from libs.secrets.keys import validate_relative_path

_SEGMENT = re.compile(r"[A-Za-z0-9_.@+=-]{1,255}")
MAX_PATH = 1024


def segment_problem(segment: str) -> str | None:
    """Return why ``segment`` is not a valid name inside ``output_dir``, or ``None``."""
    if not segment:
        return "empty path segment"
    if not _SEGMENT.fullmatch(segment):
        if len(segment) > 255:
            return "path segment longer than 255 characters"
        return "path segment may only contain letters, digits and _ . @ + = -"
    if segment.startswith("."):
        return "path segment may not start with '.' (dot names belong to the agent)"
    return None


def relpath_problem(path: str) -> str | None:
    """Return why ``path`` is not a valid relative path inside ``output_dir``, or ``None``."""
    try:
        validate_relative_path(path)
    except InvalidSecretKeyError:
        return _explain(path) or "is not a valid relative path"
    return _explain(path)


def _explain(path: str) -> str | None:
    if not path:
        return "must not be empty"
    if path.startswith("/"):
        return "must be relative to output_dir, not absolute"
    if len(path.encode()) > MAX_PATH:
        return f"longer than {MAX_PATH} bytes"
    for segment in path.split("/"):
        problem = segment_problem(segment)
        if problem is not None:
            return problem
    return None


def validate_relpath(path: str) -> None:
    """Raise ``ValueError`` (naming the rule, not repeating the path) if ``path`` is invalid."""
    problem = relpath_problem(path)
    if problem is not None:
        raise ValueError(problem)
