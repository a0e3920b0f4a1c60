"""Errors of the secret writer (re-exported by ``secrets_agent.writer.writer``).

Messages name paths and errno texts, never file contents.
"""

from __future__ import annotations

import os


class OutputDirError(Exception):
    """``output_dir`` is unusable (symlink, world-writable, wrong owner, not tmpfs, missing)."""


class WriteError(Exception):
    """One file could not be written or removed; the old file is intact."""

    def __init__(self, target: str, reason: str, *, errno: int | None = None) -> None:
        super().__init__(f"{target}: {reason}")
        self.target = target
        self.errno = errno


def why(exc: OSError) -> str:
    """The errno text of ``exc`` (``"No space left on device"``), without the path."""
    return os.strerror(exc.errno) if exc.errno else str(exc)
