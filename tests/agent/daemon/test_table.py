"""SecretTable: due secrets out of the heap, results back in, the gate, what changed."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
from fake_sources import agent_config, spec
from secrets_agent.daemon.refresh import RefreshResult
from secrets_agent.daemon.reload import plan_reload
from secrets_agent.daemon.table import Done, SecretTable
from secrets_agent.sources.result import BackendUnavailableError

NOW = 1_000.0
OK = RefreshResult(ok=True, changed=False)
DOWN = RefreshResult(ok=False, changed=False, error="sealed")


def _done(
    table: SecretTable, specs: list[Any], result: RefreshResult, error: Any = None
) -> list[Done]:
    done = []
    for sp in specs:
        state = table.state(sp.target)
        assert state is not None
        if result.ok:  # what refresh() does to the state
            state.consecutive_failures, state.last_error, state.fetched_at = 0, None, NOW
        else:
            state.consecutive_failures += 1
            state.last_error = result.error
        done.append(Done(sp, state, result, error))
    return done


def test_due_secrets_leave_the_heap_and_come_back_with_their_next_time() -> None:
    rng = random.Random(1)
    specs = [spec(f"s{i}", 60.0) for i in range(5)]
    table = SecretTable(specs)
    table.rebuild(NOW)
    assert table.wake_at() == NOW
    due = table.take_due(NOW, rng)
    assert [s.target for s in due] == [s.target for s in specs]
    assert table.take_due(NOW, rng) == [] and table.wake_at() is None  # in flight
    assert table.unscheduled() == set()
    table.complete(_done(table, due, OK), probe=False, now=NOW, rng=rng)
    times = [s.next_refresh_at for s in table.states()]
    assert all(t is not None and NOW + 3 <= t <= NOW + 60 for t in times)  # first: spread
    assert table.wake_at() == min(times) and table.ready()
    states, changed, reordered = table.changes()
    assert [s.target for s in states] == [s.target for s in specs] and reordered
    assert changed == {s.target for s in specs}
    states, changed, reordered = table.changes()
    assert len(states) == len(specs) and changed == set() and not reordered  # nothing since


def test_a_batching_source_gets_calls_filled_with_secrets_due_soon() -> None:
    rng = random.Random(2)
    specs = [spec(f"s{i}", 100.0) for i in range(30)]
    table = SecretTable(specs)
    table.rebuild(NOW)
    table.complete(_done(table, table.take_due(NOW, rng), OK), probe=False, now=NOW, rng=rng)
    first = table.wake_at()
    assert first is not None
    due = table.take_due(first, rng, fill_to=20)
    # Those due within a quarter interval (25 s) of the first ride along, up to 20.
    assert 1 < len(due) <= 20
    assert all((table.states()[int(s.target[1:])].next_refresh_at or 0) <= first + 25 for s in due)


def test_outage_holds_then_restores_and_catches_up() -> None:
    rng = random.Random(3)
    specs = [spec(f"s{i}", 300.0) for i in range(10)]
    table = SecretTable(specs)
    table.rebuild(NOW)
    table.complete(_done(table, table.take_due(NOW, rng), OK), probe=False, now=NOW, rng=rng)
    t1 = table.wake_at()
    assert t1 is not None
    first = table.take_due(t1, rng)  # the earliest fails: the gate closes
    assert len(first) == 1
    sealed = BackendUnavailableError("sealed")
    table.complete(_done(table, first, DOWN, sealed), probe=False, now=t1, rng=rng)
    assert not table.gate_open()
    rest = table.take_due(NOW + 400, rng)
    assert rest == []  # held, not handed out
    assert table.unscheduled() == set()  # ... but not lost: the probe is due
    assert all(s.consecutive_failures == 1 for s in table.states())
    probe_at = table.wake_at()
    assert probe_at is not None and t1 + 1.0 <= probe_at <= t1 + table.gate().cap
    probe = table.take_probe(probe_at)
    assert probe is not None and probe.target == first[0].target
    table.complete(_done(table, [probe], OK), probe=True, now=probe_at, rng=rng)
    assert table.gate_open()
    states = table.states()
    assert all(s.consecutive_failures == 0 and s.last_error is None for s in states)
    # caught up within the window (min(0.9 x 300, max(2 x outage, 10 s)))
    assert all(probe_at <= (s.next_refresh_at or 0) <= probe_at + 270 for s in states)


def test_reload_plan(tmp_path: Path) -> None:
    old = agent_config(tmp_path, [spec("keep"), spec("drop"), spec("change")])
    new = agent_config(tmp_path, [spec("keep"), spec("change", 60.0), spec("new")])
    table = SecretTable(old.secrets)
    states = {s.target: s for s in table.states()}
    plan = plan_reload(old, new, states)
    assert plan.removed == ("drop",)
    assert [s.target for s in plan.fetch_now] == ["change", "new"]
    assert not plan.new_writer and not plan.new_source
    moved = agent_config(tmp_path / "elsewhere", [spec("keep")])
    plan = plan_reload(old, moved, states)
    assert set(plan.removed) == {"keep", "drop", "change"} and plan.new_writer
    assert [s.target for s in plan.fetch_now] == ["keep"]


def test_wake_ups_take_due_secrets_along_by_a_share_of_the_shortest_interval() -> None:
    from secrets_agent.daemon.table import coalesce_window

    assert coalesce_window(0.0) == 0.05  # no secrets / sub-second intervals: 50 ms
    assert coalesce_window(10.0) == 0.05
    assert coalesce_window(300.0) == pytest.approx(0.9)  # the 5-minute default
    assert coalesce_window(86_400.0) == 1.0
