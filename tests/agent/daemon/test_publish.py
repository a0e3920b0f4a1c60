"""The publisher: notable changes within a second, routine ones as their cost allows."""

from __future__ import annotations

import copy
import json
import random
from pathlib import Path

from fake_sources import spec
from secrets_agent.daemon.publish import Publisher
from secrets_agent.daemon.refresh import RefreshResult
from secrets_agent.daemon.state import SecretState, notable_change
from secrets_agent.daemon.table import Done, SecretTable
from secrets_agent.notify import Notifier
from secrets_agent.writer.writer import SecretWriter


class Clocks:
    """The agent's clock and the CPU clock a flush is charged to (``cost`` s a flush)."""

    def __init__(self, cost: float) -> None:
        self.now = 1_000.0
        self.cpu = 0.0
        self.cost = cost
        self.flushes = 0

    def cpu_clock(self) -> float:
        self.cpu += self.cost  # read before and after each flush: it costs ``cost``
        return self.cpu


class Lines(Notifier):
    def __init__(self) -> None:
        super().__init__(None)
        self.lines: list[str] = []

    def status(self, text: str) -> None:
        self.lines.append(text)


def _setup(
    tmpfs_dir: Path, n: int, interval: float, cost: float
) -> tuple[SecretTable, Publisher, Clocks, Lines]:
    table = SecretTable([spec(f"s{i}", interval) for i in range(n)])
    clocks = Clocks(cost)
    notifier = Lines()
    publisher = Publisher(
        table,
        notifier,
        clock=lambda: clocks.now,
        backend="vault",
        started_at=clocks.now,
        cost_clock=clocks.cpu_clock,
    )
    writer = SecretWriter(tmpfs_dir / "out")
    writer.prepare()
    publisher.set_outputs(writer, None, "vault")
    return table, publisher, clocks, notifier


def _refresh(table: SecretTable, target: str, now: float, *, failed: bool = False) -> None:
    state = table.state(target)
    assert state is not None
    state.last_attempt_at = now
    if failed:
        state.consecutive_failures += 1
        state.last_error = "denied"
        result = RefreshResult(ok=False, changed=False, error="denied")
    else:
        state.fetched_at = now
        result = RefreshResult(ok=True, changed=False)
    (sp,) = [s for s in table.specs() if s.target == target]
    table.complete([Done(sp, state, result, None)], probe=False, now=now, rng=random.Random(1))


def _fetched_at(tmpfs_dir: Path, target: str) -> float:
    status = json.loads((tmpfs_dir / "out" / ".status.json").read_text())
    (entry,) = [e for e in status["secrets"] if e["target"] == target]
    return float(entry["fetched_at"])


def test_routine_changes_wait_for_a_tenth_of_the_interval_when_a_flush_is_costly(
    tmpfs_dir: Path,
) -> None:
    # A flush costing 50 ms of CPU (10,000 secrets) may run every 50 s at 0.1 % of a core,
    # but the status file must not lag a 300 s schedule by more than 30 s.
    table, publisher, clocks, _ = _setup(tmpfs_dir, 3, 300.0, cost=0.05)
    publisher.flush(force=True)
    first = clocks.now
    waited = []
    for step in range(1, 40):
        clocks.now = first + step
        _refresh(table, "s0", clocks.now)  # fetched_at moves: routine
        before = (tmpfs_dir / "out" / ".status.json").stat().st_mtime_ns
        publisher.flush()
        if (tmpfs_dir / "out" / ".status.json").stat().st_mtime_ns != before:
            waited.append(step)
    assert waited == [30]  # at 0.1 % it would be 50 s; the tenth of the interval caps it
    assert _fetched_at(tmpfs_dir, "s0") == first + 30


def test_a_notable_change_is_published_within_a_second_even_when_costly(tmpfs_dir: Path) -> None:
    table, publisher, clocks, notifier = _setup(tmpfs_dir, 3, 300.0, cost=0.005)
    publisher.flush(force=True)
    clocks.now += 0.5
    _refresh(table, "s1", clocks.now, failed=True)
    publisher.flush()
    assert len(notifier.lines) == 1  # not yet: at most one flush a second
    clocks.now += 0.6
    publisher.flush()
    assert len(notifier.lines) == 2 and "1 failing" in notifier.lines[-1]


def test_a_notable_change_spaces_flushes_by_their_cost_at_one_percent(tmpfs_dir: Path) -> None:
    # 50 ms a flush: a failure every second is published every 5 s, no more often.
    table, publisher, clocks, notifier = _setup(tmpfs_dir, 3, 300.0, cost=0.05)
    publisher.flush(force=True)
    start = clocks.now
    published = []
    for step in range(1, 12):
        clocks.now = start + step
        _refresh(table, "s2", clocks.now, failed=True)
        count = len(notifier.lines)
        publisher.flush()
        if len(notifier.lines) > count:
            published.append(step)
    assert published == [5, 10]


def test_routine_changes_of_a_small_agent_are_published_every_second(tmpfs_dir: Path) -> None:
    table, publisher, clocks, notifier = _setup(tmpfs_dir, 3, 10.0, cost=0.0001)
    publisher.flush(force=True)
    start = clocks.now
    for step in range(1, 6):
        clocks.now = start + step
        _refresh(table, "s0", clocks.now)
        publisher.flush()
    assert len(notifier.lines) == 1 + 5
    assert _fetched_at(tmpfs_dir, "s0") == start + 5


def test_only_routine_times_make_a_change_routine() -> None:
    old = SecretState(path="p", target="t", version="1", fetched_at=1.0, files=["t"])
    routine = copy.copy(old)
    routine.fetched_at, routine.last_attempt_at, routine.next_refresh_at = 2.0, 2.0, 300.0
    routine.fetch_seconds, routine.resume_at = 0.01, 5.0
    assert not notable_change(old, routine)
    assert notable_change(None, old)
    for name, value in [
        ("version", "2"),
        ("changed_at", 2.0),
        ("last_error", "denied"),
        ("consecutive_failures", 1),
        ("missing", True),
        ("files", ["t", "t2"]),
        ("lease_id", "database/creds/x/1"),
        ("lease_expires_at", 9.0),
        ("lease_final", True),
    ]:
        changed = copy.copy(old)
        setattr(changed, name, value)
        assert notable_change(old, changed), name


def test_a_copied_state_is_equal_and_separate() -> None:
    old = SecretState(path="p", target="t", version="1", files=["t"], lease_renewable=True)
    new = copy.copy(old)
    assert new == old and new is not old
    new.version = "2"
    assert old.version == "1"


def test_a_replaced_state_is_referenced_by_nothing_but_its_holder(tmpfs_dir: Path) -> None:
    """A sweep replaces every state of a directory within a second: if the publisher kept the
    states it last wrote, both generations would stay allocated until the next flush."""
    import sys

    def references(objects: list[SecretState]) -> list[int]:
        return [sys.getrefcount(o) for o in objects]

    (listed_only,) = references([SecretState(path="x", target="x")])
    table, publisher, clocks, _ = _setup(tmpfs_dir, 20, 300.0, cost=0.0)
    publisher.set_outputs(SecretWriter(tmpfs_dir / "out"), tmpfs_dir / "agent.prom", "vault")
    publisher.flush(force=True)
    before = table.states()
    assert references(before) == [listed_only + 1] * 20  # and the table
    for target in [s.target for s in before]:
        _refresh(table, target, clocks.now + 1)
    assert references(before) == [listed_only] * 20  # the table let go, and nothing else holds
    publisher.flush(force=True)
    assert all(_fetched_at(tmpfs_dir, s.target) == clocks.now + 1 for s in before)


def test_the_metrics_file_follows_a_changed_state(tmpfs_dir: Path) -> None:
    # The metrics lines are cached per secret and rendered again only for the secrets the
    # table reports changed: a failure must show in the next flush's file.
    table, publisher, clocks, _ = _setup(tmpfs_dir, 3, 300.0, cost=0.0)
    metrics = tmpfs_dir / "agent.prom"
    writer = SecretWriter(tmpfs_dir / "out")
    publisher.set_outputs(writer, metrics, "vault")
    publisher.flush(force=True)
    line = 'secrets_agent_consecutive_failures{target="s1"}'
    assert f"{line} 0\n" in metrics.read_text()
    _refresh(table, "s1", clocks.now + 1, failed=True)
    publisher.flush(force=True)
    assert f"{line} 1\n" in metrics.read_text()
    assert 'secrets_agent_consecutive_failures{target="s0"} 0\n' in metrics.read_text()
