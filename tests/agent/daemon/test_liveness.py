"""Liveness: no sequence of outcomes leaves a secret or the outage probe without a next wake-up.

The whole agent runs on ``ManualScheduler`` (a fake clock; refreshes run at once): hypothesis
draws sequences of backend failures of every kind, outages, reloads, sync_once calls, timer runs
the scheduler drops (as APScheduler drops a one-shot run at ``max_instances``), late runs (long
jumps of the clock) and refresh calls that crash. After every step every secret is queued, in
flight or held behind a due probe; at the end, once the backend answers again, every secret is
fetched again and healthy within the bound the policy gives.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
from fake_sources import MODES, ScriptedSource, agent_config, spec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from secrets_agent.daemon import batch
from secrets_agent.daemon.agent import Agent
from secrets_agent.daemon.manual import ManualScheduler
from secrets_agent.notify import Notifier

NAMES = ("a", "b", "c", "d", "e")
INTERVALS = (1.0, 7.0, 60.0, 300.0)

steps = st.lists(
    st.one_of(
        st.tuples(st.just("advance"), st.floats(0.0, 400.0)),
        st.tuples(st.just("mode"), st.sampled_from(MODES)),
        st.tuples(st.just("reload"), st.sets(st.sampled_from(NAMES)), st.sampled_from(INTERVALS)),
        st.tuples(st.just("skip"), st.sampled_from(("wake", "heartbeat"))),
        st.tuples(st.just("crash"), st.integers(1, 3)),
        st.tuples(
            st.just("sync_once"),
        ),
    ),
    max_size=25,
)


class _Crashes:
    """Makes the next ``n`` refresh steps raise, as a bug or an unexpected error would."""

    def __init__(self) -> None:
        self.left = 0
        self.real = batch.refresh

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.left > 0:
            self.left -= 1
            raise RuntimeError("injected crash")
        return self.real(*args, **kwargs)


def _specs(names: set[str] | tuple[str, ...], interval: float) -> list[Any]:
    return [
        spec(n, interval if i % 2 else INTERVALS[i % len(INTERVALS)])
        for i, n in enumerate(sorted(names))
    ]


def _check_scheduled(agent: Agent, scheduler: ManualScheduler) -> None:
    table = agent._table  # the invariant is about the table's bookkeeping
    assert table.unscheduled() == set()
    assert "heartbeat" in scheduler.pending()
    wake_at = table.wake_at()
    if table.specs():
        assert wake_at is not None  # something is always due at some point


@pytest.mark.parametrize("seed", [1, 2])
def test_fixed_scenario_recovers(
    tmpfs_dir: Path, seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    ops = [
        ("mode", "down"),
        ("advance", 30.0),
        ("skip", "wake"),
        ("crash", 2),
        ("advance", 5.0),
        ("reload", {"a", "c", "e"}, 7.0),
        ("mode", "throttled"),
        ("advance", 100.0),
        ("mode", "missing"),
        ("advance", 50.0),
    ]
    _run(tmpfs_dir / f"out{seed}", ops, seed, monkeypatch)


_EXPLORE = settings(
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@settings(_EXPLORE, max_examples=20)
@given(ops=steps, seed=st.integers(0, 2**16))
def test_no_sequence_of_outcomes_loses_a_secret(
    tmpfs_dir: Path, ops: list[tuple[Any, ...]], seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    _example(tmpfs_dir / "out", ops, seed, monkeypatch)


@pytest.mark.soak
@pytest.mark.timeout(1800)
@settings(_EXPLORE, max_examples=300)
@given(ops=steps, seed=st.integers(0, 2**16))
def test_no_sequence_of_outcomes_loses_a_secret_soak(
    tmpfs_dir: Path, ops: list[tuple[Any, ...]], seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    _example(tmpfs_dir / "out", ops, seed, monkeypatch)


def _example(
    out: Path, ops: list[tuple[Any, ...]], seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One hypothesis example: a fresh output directory, and the crash hook of this example
    only (the function-scoped ``monkeypatch`` outlives the examples)."""
    import shutil

    shutil.rmtree(out, ignore_errors=True)
    with monkeypatch.context() as patch:
        _run(out, ops, seed, patch)


def _run(out: Path, ops: list[tuple[Any, ...]], seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    crashes = _Crashes()
    monkeypatch.setattr(batch, "refresh", crashes)
    source = ScriptedSource()
    scheduler = ManualScheduler()
    cfg = agent_config(out, _specs(NAMES, 60.0))
    agent = Agent(
        cfg,
        source=source,
        notifier=Notifier(None),
        clock=scheduler.clock,
        rng=random.Random(seed),
        scheduler=scheduler,
    )
    agent.sync_once()
    agent.start()
    try:
        _check_scheduled(agent, scheduler)
        for op in ops:
            kind = op[0]
            if kind == "advance":
                scheduler.advance(op[1])
            elif kind == "mode":
                source.mode = op[1]
            elif kind == "reload":
                cfg = agent_config(out, _specs(op[1] or {"a"}, op[2]))
                agent.reload(cfg)
            elif kind == "skip":
                scheduler.skip(op[1])
            elif kind == "crash":
                crashes.left = op[1]
            else:
                try:
                    agent.sync_once()
                except RuntimeError:  # sync_once reports a crash to its caller
                    assert crashes.left >= 0
            _check_scheduled(agent, scheduler)
        # The backend answers again: every secret is fetched and healthy within the policy's
        # bound (a probe wait of at most the longest interval, then a catch-up window).
        crashes.left = 0
        source.mode = "ok"
        back = scheduler.now
        scheduler.advance(2 * max(INTERVALS) + 10)
        states = agent.states()
        assert states
        for state in states:
            assert state.consecutive_failures == 0, state
            assert state.fetched_at is not None and state.fetched_at >= back, state
        _check_scheduled(agent, scheduler)
    finally:
        agent.stop()
