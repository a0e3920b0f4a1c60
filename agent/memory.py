"""Giving memory the process no longer uses back to the kernel.

CPython returns freed objects to its allocators, not to the system: after the first sync of
thousands of secrets (every response parsed and rendered once) or after a reload (a new config
parsed), the C heap keeps the freed pages, and the daemon's RSS stays at that peak for weeks.
glibc's ``malloc_trim`` releases them. Elsewhere (musl, macOS) this is a no-op.
"""

from __future__ import annotations

import gc
import logging

from secrets_agent.libc import libc

__all__ = ["release_free_memory"]

log = logging.getLogger(__name__)


def release_free_memory() -> bool:
    """Collect garbage, then return free heap pages to the kernel; True if the C library
    could be asked (glibc)."""
    gc.collect()
    trim = getattr(libc(), "malloc_trim", None)
    if trim is None:
        return False
    trim(0)
    return True
