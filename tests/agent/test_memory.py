"""release_free_memory gives the heap's free pages back: measured on this process's RSS."""

from __future__ import annotations

from pathlib import Path

from secrets_agent.memory import release_free_memory


def _rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_freed_heap_pages_go_back_to_the_kernel() -> None:
    # 64 KiB blocks come from the C heap (below glibc's mmap threshold); the last one stays
    # alive and pins the heap's top, so freeing the others returns nothing by itself.
    blocks = [bytes(64 * 1024) + bytes([i % 256]) for i in range(1_500)]
    keep = blocks[-1]
    del blocks
    before = _rss_kib()
    assert release_free_memory()
    after = _rss_kib()
    assert before - after > 50 * 1024, (before, after)  # most of the ~94 MiB came back
    assert len(keep) == 64 * 1024 + 1
