"""release_free_memory gives the heap's free pages back (measured on this process's RSS), and
tune_allocator keeps big blocks out of the heap (measured with glibc's own statistics)."""

from __future__ import annotations

from pathlib import Path

import pytest
from secrets_agent.libc import libc
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


# A fresh interpreter frees one 4 MiB block, then asks for another and reports how many bytes
# glibc has mapped on their own (mallinfo2's hblkhd) while the second block is alive.
_REUSE = """
import ctypes, sys
from secrets_agent.memory import tune_allocator
print(tune_allocator())
class Info(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in (
        "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost".split())]
libc = ctypes.CDLL(None)
libc.mallinfo2.restype = Info
block = bytearray(4 << 20)
del block
block = bytearray(4 << 20)
print(libc.mallinfo2().hblkhd)
"""


def _second_block(tune: bool, **env: str) -> tuple[bool, int]:
    import os
    import subprocess
    import sys

    environ = {
        k: v for k, v in os.environ.items() if k not in ("MALLOC_MMAP_THRESHOLD_", "GLIBC_TUNABLES")
    }
    code = _REUSE if tune else _REUSE.replace("print(tune_allocator())", "print(False)")
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={**environ, **env},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return out[0] == "True", int(out[1])


needs_glibc = pytest.mark.skipif(
    not hasattr(libc(), "mallinfo2"), reason="glibc >= 2.33 only (mallinfo2)"
)


@needs_glibc
def test_big_blocks_stay_mapped_on_their_own_once_the_threshold_is_fixed() -> None:
    # Untuned, glibc raised its threshold when the first block was freed: the second comes
    # from the heap, where the objects allocated after it keep its pages resident.
    tuned, mapped = _second_block(tune=False)
    assert not tuned and mapped < 4 << 20, mapped
    tuned, mapped = _second_block(tune=True)
    assert tuned and mapped >= 4 << 20, mapped  # unmapped, not kept, when freed


@needs_glibc
def test_an_operators_own_threshold_is_left_in_force() -> None:
    for env in (
        {"MALLOC_MMAP_THRESHOLD_": "1048576"},
        {"GLIBC_TUNABLES": "glibc.malloc.mmap_threshold=65536"},
    ):
        tuned, _ = _second_block(tune=True, **env)
        assert not tuned
