"""The C library the interpreter is linked with, for the few calls Python has no wrapper for
(``prctl``, ``fstatfs``, ``malloc_trim``).

The process's own symbols (``dlopen(NULL)``) include that library: no search for its file
(``ctypes.util.find_library`` imports ``subprocess``, ``shutil`` and ``tempfile`` and may run
``ldconfig``), and it works with any C library, glibc or musl.
"""

from __future__ import annotations

import ctypes
import functools

__all__ = ["libc"]


@functools.cache
def libc() -> ctypes.CDLL | None:
    """The C library with errno tracking, or ``None`` if it cannot be loaded."""
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None
