"""``RefreshHeap``: secrets queued by their next refresh time, one live entry per secret.

A binary heap of ``(time, sequence, target)`` with lazy deletion: re-queuing a secret (or
dropping it) only marks its older entry dead; dead entries are discarded when they reach the
top. Push, pop and drop cost O(log n) (amortised), whatever the number of secrets. When dead
entries pass a quarter of the live ones (a directory's secrets taken along at once, ``daemon.
siblings``, leaves one per secret deep in the heap), the heap is rebuilt from the live ones:
O(n) once per n/4 drops, so the heap holds at most 1.25 entries a secret. Not thread-safe:
``SecretTable`` calls it under its lock.
"""

from __future__ import annotations

import heapq
import itertools

__all__ = ["RefreshHeap"]

COMPACT_SLACK = 64  # dead entries always tolerated (a small heap is never rebuilt)


class RefreshHeap:
    """Targets by due time; see the module docstring."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, str]] = []
        self._live: dict[str, int] = {}  # target -> sequence number of its live entry
        self._seq = itertools.count()

    def __contains__(self, target: object) -> bool:
        return target in self._live

    def targets(self) -> set[str]:
        """Every queued target."""
        return set(self._live)

    def __len__(self) -> int:
        """Entries held, dead ones included."""
        return len(self._heap)

    def push(self, target: str, at: float) -> None:
        """Queue ``target`` at ``at`` (replacing where it was queued before)."""
        seq = next(self._seq)
        self._live[target] = seq
        heapq.heappush(self._heap, (at, seq, target))
        self._compact()

    def drop(self, target: str) -> None:
        """Unqueue ``target`` (no-op if it is not queued)."""
        self._live.pop(target, None)
        self._compact()

    def _compact(self) -> None:
        live_count = len(self._live)
        if len(self._heap) > live_count + live_count // 4 + COMPACT_SLACK:
            live = self._live
            self._heap = [e for e in self._heap if live.get(e[2]) == e[1]]
            heapq.heapify(self._heap)

    def clear(self) -> None:
        self._heap.clear()
        self._live.clear()

    def next_time(self) -> float | None:
        """When the earliest queued target is due, or None."""
        self._drop_dead()
        return self._heap[0][0] if self._heap else None

    def pop_until(self, limit: float, *, count: int | None = None) -> list[str]:
        """Unqueue and return the targets due at or before ``limit`` (at most ``count``),
        earliest first."""
        due: list[str] = []
        heap = self._heap
        while count is None or len(due) < count:
            self._drop_dead()
            if not heap or heap[0][0] > limit:
                break
            _, _, target = heapq.heappop(heap)
            del self._live[target]
            due.append(target)
        return due

    def _drop_dead(self) -> None:
        heap = self._heap
        while heap and self._live.get(heap[0][2]) != heap[0][1]:
            heapq.heappop(heap)
