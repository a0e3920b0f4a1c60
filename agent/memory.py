"""Keeping the daemon's resident memory at what it holds, not at what it once touched.

CPython returns freed objects to its allocators, not to the system, and glibc's ``malloc`` keeps
two habits that a long-running agent pays for in RSS:

* After the first sync of thousands of secrets (every response parsed and rendered once) or
  after a reload (a new config parsed), the C heap keeps the freed pages, and the daemon's RSS
  stays at that peak for weeks. ``release_free_memory`` (``malloc_trim``) gives them back.
* Blocks of 128 KiB and more are mapped on their own and unmapped when freed, but the first
  time such a block is freed glibc raises that threshold to the block's size (up to 32 MiB).
  From then on the status file's text (~3.5 MB at 10,000 secrets, built at every flush) comes
  from the heap, and the small objects allocated around it keep those pages resident: ~4-6 MiB
  at 10,000 secrets. ``tune_allocator`` fixes the threshold at its default, which also stops
  glibc from moving it.

Elsewhere (musl, macOS) both are no-ops.
"""

from __future__ import annotations

import gc
import logging
import os

from secrets_agent.libc import libc

__all__ = ["MMAP_THRESHOLD", "release_free_memory", "tune_allocator"]

log = logging.getLogger(__name__)

M_MMAP_THRESHOLD = -3  # mallopt parameter numbers (malloc.h)
MMAP_THRESHOLD = 128 * 1024  # glibc's default, kept fixed


def release_free_memory() -> bool:
    """Collect garbage, then return free heap pages to the kernel; True if the C library
    could be asked (glibc)."""
    gc.collect()
    trim = getattr(libc(), "malloc_trim", None)
    if trim is None:
        return False
    trim(0)
    return True


def tune_allocator() -> bool:
    """Keep glibc's mmap threshold fixed at ``MMAP_THRESHOLD`` (see the module docstring);
    True if it was set. An operator's own ``MALLOC_MMAP_THRESHOLD_`` or ``GLIBC_TUNABLES``
    setting for it is left in force."""
    if "MALLOC_MMAP_THRESHOLD_" in os.environ or "mmap_threshold" in os.environ.get(
        "GLIBC_TUNABLES", ""
    ):
        return False
    mallopt = getattr(libc(), "mallopt", None)
    if mallopt is None:
        return False
    if not mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD):
        log.debug("mallopt(M_MMAP_THRESHOLD) refused")
        return False
    return True
