"""Rules for names inside ``output_dir``: the reader's key rules, from ``libs.secrets._core``.

A relative path is ``segment("/"segment)*``; a segment matches ``[A-Za-z0-9_.@+=-]+``, is not
``.`` or ``..`` and does not start with ``.`` (dot names belong to the agent: ``.status.json``
and temporary files). So a valid relative path can never be absolute, traverse upwards, or name
one of the agent's own files. The rule itself lives in ``libs.secrets._core.paths``; this module
only gives it the writer's names. Messages never repeat the path.
"""

from __future__ import annotations

from libs.secrets._core.paths import MAX_PATH_BYTES, path_problem, segment_problem

__all__ = ["MAX_PATH_BYTES", "relpath_problem", "segment_problem", "validate_relpath"]


def relpath_problem(path: str) -> str | None:
    """Return why ``path`` is not a valid relative path inside ``output_dir``, or ``None``."""
    return path_problem(path)


def validate_relpath(path: str) -> None:
    """Raise ``ValueError`` (naming the rule, not repeating the path) if ``path`` is invalid."""
    problem = path_problem(path)
    if problem is not None:
        raise ValueError(problem)
