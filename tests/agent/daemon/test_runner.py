"""The runner on a fake clock: one wake timer over the heap, batched calls, coalesced
publishing, and recovery after an outage within seconds at the default interval."""

from __future__ import annotations

import json
import random
import statistics
from pathlib import Path

import pytest
from fake_sources import ScriptedSource, agent_config, spec
from secrets_agent.daemon.agent import Agent
from secrets_agent.daemon.manual import ManualScheduler
from secrets_agent.notify import Notifier


class CountingNotifier(Notifier):
    """Counts STATUS= lines and READY=1 (no socket)."""

    def __init__(self) -> None:
        super().__init__(None)
        self.statuses: list[float] = []
        self.readies = 0
        self.clock = lambda: 0.0

    def status(self, text: str) -> None:
        self.statuses.append(self.clock())

    def ready(self, status: str | None = None) -> None:
        self.readies += 1


def _agent(
    out: Path, n: int, interval: float, *, batch_size: int = 1, seed: int = 1, **agent: object
) -> tuple[Agent, ScriptedSource, ManualScheduler, CountingNotifier]:
    source = ScriptedSource(batch_size=batch_size)
    scheduler = ManualScheduler()
    notifier = CountingNotifier()
    notifier.clock = scheduler.clock
    specs = [spec(f"s{i:05d}", interval) for i in range(n)]
    agent = Agent(
        agent_config(out, specs, **agent),
        source=source,
        notifier=notifier,
        clock=scheduler.clock,
        rng=random.Random(seed),
        scheduler=scheduler,
    )
    return agent, source, scheduler, notifier


def test_every_secret_refreshes_on_time_with_one_status_write_a_second(tmpfs_dir: Path) -> None:
    agent, source, scheduler, notifier = _agent(tmpfs_dir / "out", 500, 10.0)
    assert agent.sync_once().ok
    agent.start()
    try:
        notifier.statuses.clear()
        scheduler.advance(60.0)
        counts = list(source.fetched.values())
        # First refresh within one interval, then one every 9-11 s: 5-7 in a minute each.
        assert len(counts) == 500 and min(counts) >= 1 + 5 and max(counts) <= 1 + 7
        # ~300 refreshes a second were published at most once a second.
        assert len(notifier.statuses) <= 61
        status = json.loads((tmpfs_dir / "out" / ".status.json").read_text())
        assert len(status["secrets"]) == 500
        late = [
            e["target"]
            for e in status["secrets"]
            if e["next_refresh_at"] < scheduler.now - 1.0 or e["consecutive_failures"]
        ]
        assert late == []
    finally:
        agent.stop()


def test_secrets_due_together_share_a_batch(tmpfs_dir: Path) -> None:
    agent, source, scheduler, _ = _agent(tmpfs_dir / "out", 100, 60.0, batch_size=20)
    agent.sync_once()
    calls_before = source.calls
    agent.start()
    try:
        scheduler.advance(600.0)
    finally:
        agent.stop()
    refreshes = sum(source.fetched.values()) - 100
    calls = source.calls - calls_before
    assert refreshes >= 900  # ~10 cycles of 100
    assert calls <= refreshes / 5  # grouped: far fewer calls than secrets


def test_ready_is_sent_as_soon_as_the_last_secret_is_in_place(tmpfs_dir: Path) -> None:
    # A small agent probes no faster than it refreshes unless told: here it is told.
    agent, source, scheduler, notifier = _agent(tmpfs_dir / "out", 3, 300.0, outage_probe_max=5.0)
    source.mode = "down"
    assert not agent.sync_once().ok
    agent.announce_ready()
    agent.start()
    try:
        assert notifier.readies == 0
        scheduler.advance(3.0)
        source.mode = "ok"
        back = scheduler.now
        while notifier.readies == 0 and scheduler.now < back + 30:
            scheduler.advance(0.01)
        # Without a good file a held secret is fetched the moment the probe answers, and READY
        # goes out at once (not with the next once-a-second flush).
        assert notifier.readies == 1 and agent.all_synced()
        assert scheduler.now - back <= 5.0 + 0.05
    finally:
        agent.stop()


def _recovery_after_outage(out: Path, seed: int, outage: float) -> float:
    """Seconds from the backend's return until every secret is fresh again (no failure)."""
    agent, source, scheduler, _ = _agent(out, 200, 300.0, seed=seed)
    assert agent.sync_once().ok
    agent.start()
    try:
        scheduler.advance(random.Random(seed).uniform(0, 300))
        source.mode = "down"
        scheduler.advance(outage)
        assert any(s.consecutive_failures for s in agent.states())
        source.mode = "ok"
        back = scheduler.now
        while any(s.consecutive_failures for s in agent.states()):
            scheduler.advance(0.1)
            assert scheduler.now - back < 60, "not recovered"
        return scheduler.now - back
    finally:
        agent.stop()


@pytest.mark.parametrize("outage", [30.0, 600.0])
def test_fresh_within_seconds_of_the_backends_return_at_the_default_interval(
    tmpfs_dir: Path, outage: float
) -> None:
    times = [_recovery_after_outage(tmpfs_dir / f"out{seed}", seed, outage) for seed in range(12)]
    # The probe backs off to at most outage_probe_max (5 s) whatever the interval; the held
    # secrets get their pre-outage status back when it answers (their catch-up fetch follows,
    # spread out for the backend's sake).
    assert max(times) <= 5.0 + 0.2
    assert statistics.median(times) <= 3.0


def _reread_after_outage(out: Path, seed: int, **agent_settings: object) -> list[float]:
    """Seconds from the backend's return (a 30 s outage, 200 secrets at the 5-minute default)
    until each secret that fell due during the outage was read again."""
    agent, source, scheduler, _ = _agent(out, 200, 300.0, seed=seed, **agent_settings)
    assert agent.sync_once().ok
    agent.start()
    try:
        scheduler.advance(random.Random(seed).uniform(0, 300))
        source.mode = "down"
        scheduler.advance(30.0)
        overdue = {s.target for s in agent.states() if s.consecutive_failures}
        assert overdue
        counts = dict(source.fetched)
        source.mode = "ok"
        back = scheduler.now
        seen: dict[str, float] = {}
        while len(seen) < len(overdue) and scheduler.now - back < 120:
            scheduler.advance(0.1)
            for target in overdue - set(seen):
                if source.fetched[target] > counts[target]:
                    seen[target] = scheduler.now - back
        assert set(seen) == overdue
        return list(seen.values())
    finally:
        agent.stop()


def test_a_catch_up_window_has_every_overdue_secret_read_again_within_it(tmpfs_dir: Path) -> None:
    fast = [
        t
        for seed in range(6)
        for t in _reread_after_outage(tmpfs_dir / f"f{seed}", seed, catch_up_window=5.0)
    ]
    # The probe notices the return within its 5 s ceiling; the catch-up then takes <= 5 s.
    assert max(fast) <= 5.0 + 5.0 + 0.2
    assert statistics.median(fast) <= 5.0
    spread = [t for seed in range(6) for t in _reread_after_outage(tmpfs_dir / f"d{seed}", seed)]
    # Unset, the same outage is caught up over 60 s (2 x the outage) for the fleet's sake.
    assert max(spread) > 20.0 and statistics.median(spread) > 10.0
