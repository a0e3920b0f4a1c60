"""RefreshHeap: due order with lazy deletion, and memory bounded by the live entries."""

from __future__ import annotations

import random

from secrets_agent.daemon.refresh_heap import COMPACT_SLACK, RefreshHeap


def test_targets_come_out_in_due_order_once_each() -> None:
    heap = RefreshHeap()
    rng = random.Random(7)
    times = {f"s{i}": rng.uniform(0, 100) for i in range(200)}
    for target, at in times.items():
        heap.push(target, at + 1000)  # an old slot ...
        heap.push(target, at)  # ... replaced
    for target in list(times)[::3]:
        heap.drop(target)
    left = {t: at for i, (t, at) in enumerate(times.items()) if i % 3}
    assert heap.pop_until(50.0) == sorted((t for t in left if left[t] <= 50.0), key=left.get)
    assert heap.next_time() == min(at for at in left.values() if at > 50.0)


def test_dropping_a_whole_directory_at_once_does_not_keep_its_dead_entries() -> None:
    """Secrets taken along (dropped, then queued again far later) leave dead entries deep in
    the heap: they are purged once they pass a quarter of the live ones."""
    heap = RefreshHeap()
    n = 10_000
    for i in range(n):
        heap.push(f"s{i}", float(i))
    for sweep in range(1, 4):
        for i in range(n):
            heap.drop(f"s{i}")
            heap.push(f"s{i}", sweep * 1e6 + i)
        assert len(heap) <= n + n // 4 + COMPACT_SLACK
    assert heap.pop_until(3e6 + 4) == [f"s{i}" for i in range(5)]
    assert heap.targets() == {f"s{i}" for i in range(5, n)}
