"""Load: 200 agents' refresh schedules against one backend over an hour of simulated time.

No processes: each agent is the agent's own ``SecretTable`` (its refresh heap, its outage gate
and ``daemon.policy``, which decides every next refresh: ``first_refresh_delay`` after a first
success, ``jittered_interval`` after later ones, ``failure_delay`` after a failure, the probe
and the catch-up after an outage), driven the way ``daemon.runner`` drives it (take what is due,
fetch it, record the results, wake at the next due time), each secret's state updated by the
agent's own ``refresh()``, with an injected clock and a seeded random source per agent; the
backend is a counter of requests per 10 s bucket. Reported: peak/mean request rate in steady
state, during an outage, and while the fleet catches up after it.
"""

from __future__ import annotations

import heapq
import logging
import random
from collections import Counter
from typing import Any

import pytest
from fake_sources import spec
from reliability_kit import record
from secrets_agent.daemon import outage as pacing
from secrets_agent.daemon.refresh import refresh
from secrets_agent.daemon.table import Done, SecretTable
from secrets_agent.sources.result import BackendUnavailableError, SecretData

AGENTS = 200
SECRETS_PER_AGENT = 30  # 6,000 secrets: ~200 requests per 10 s bucket at a 5 min interval
INTERVAL = 300.0
HOUR = 3600.0
BUCKET = 10.0


class _NullWriter:
    def write(self, *_: Any, **__: Any) -> bool:
        return False

    def write_files(self, *_: Any, **__: Any) -> list[str]:
        return []

    def remove(self, *_: Any) -> bool:
        return False


class Simulation:
    """Requests per bucket over one hour; ``caught_up_at`` is when the last catch-up ran."""

    def __init__(self) -> None:
        self.buckets: Counter[int] = Counter()
        self.caught_up_at = 0.0


def _fetch(
    table: SecretTable, specs: list[Any], outcome: Any, now: float, rng: random.Random, probe: bool
) -> None:
    writer: Any = _NullWriter()
    done = []
    for sp in specs:
        state = table.state(sp.target)
        assert state is not None
        result = refresh(sp, outcome, writer, state, now=now)
        error = outcome if isinstance(outcome, BackendUnavailableError) else None
        done.append(Done(sp, state, result, error))
    table.complete(done, probe=probe, now=now, rng=rng)


def simulate(
    *, start_spread: float, outage: tuple[float, float] | None = None, seed: int = 11
) -> Simulation:
    """Agents start uniformly within ``start_spread`` s; the backend is down during ``outage``.

    Each agent does what ``secrets_agent.daemon.agent`` does: a first sync of every secret, then
    at each wake-up the secrets due (held instead while its gate is closed) and the probe.
    """
    master = random.Random(seed)
    data = SecretData(fields={"k": "v"}, raw="{}", version="1")
    down = BackendUnavailableError("sealed")
    events: list[tuple[float, int]] = []
    agents: list[tuple[SecretTable, random.Random]] = []
    for a in range(AGENTS):
        rng = random.Random(master.random())
        specs = [spec(f"a{a}/s{s}", interval=INTERVAL) for s in range(SECRETS_PER_AGENT)]
        agents.append((SecretTable(specs), rng))  # the default probe ceiling
        start = master.uniform(0, start_spread) if start_spread else 0.0
        heapq.heappush(events, (start, a))
    started: set[int] = set()
    sim = Simulation()
    quiet = logging.getLogger("secrets_agent.daemon")
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        while events:
            now, a = heapq.heappop(events)
            if now >= HOUR:
                break
            table, rng = agents[a]
            failing = outage is not None and outage[0] <= now < outage[1]
            outcome = down if failing else data
            if a not in started:  # the first sync (``sync_once``), then ``start``
                started.add(a)
                _fetch(table, table.specs(), outcome, now, rng, probe=True)
                sim.buckets[int(now // BUCKET)] += SECRETS_PER_AGENT
                table.rebuild(now)
            due = table.take_due(now, rng)
            probe = table.take_probe(now)
            sim.buckets[int(now // BUCKET)] += len(due) + (probe is not None)
            # held secrets exist only behind a closed gate (``gate()`` copies the gate: costly)
            held = set() if table.gate_open() else set(table.gate().held)
            if due:
                _fetch(table, due, outcome, now, rng, probe=False)
            if probe is not None:
                _fetch(table, [probe], outcome, now, rng, probe=True)
            if held and table.gate_open():  # recovered: when does its catch-up end?
                times = [s.next_refresh_at or now for s in table.states() if s.target in held]
                sim.caught_up_at = max(sim.caught_up_at, *times)
            wake = table.wake_at()
            if wake is not None:
                heapq.heappush(events, (max(wake, now), a))
    finally:
        quiet.setLevel(level)
    return sim


def _ratio(buckets: Counter[int], lo: float, hi: float) -> tuple[float, float]:
    window = [buckets.get(b, 0) for b in range(int(lo // BUCKET), int(hi // BUCKET))]
    mean = sum(window) / len(window)
    return max(window) / mean, mean


def _peak(buckets: Counter[int], lo: float, hi: float) -> int:
    return max(buckets.get(b, 0) for b in range(int(lo // BUCKET), int(hi // BUCKET)))


@pytest.fixture(scope="module")
def no_outage() -> Counter[int]:
    """A fleet that came up over one interval, over one hour without an outage (read only)."""
    return simulate(start_spread=INTERVAL).buckets


def test_steady_state_rate_is_flat(no_outage: Counter[int]) -> None:
    """A fleet that came up over one interval (rolling deploys, reboots) stays spread out."""
    buckets = no_outage
    whole, _ = _ratio(buckets, 0, HOUR)  # includes every agent's first full sync
    ratio, mean = _ratio(buckets, INTERVAL, HOUR)
    record(
        "load: 200 agents x 30 secrets, 1 h, staggered start",
        tried=sum(buckets.values()),
        lost=0,
        unit="requests",
        peak_over_mean_10s_after_first_cycle=f"{ratio:.2f}",
        peak_over_mean_10s_whole_hour=f"{whole:.2f}",
        mean_per_10s=f"{mean:.0f}",
    )
    assert ratio <= 1.3


# Peak/mean of 10 s buckets in a flat stretch of this fleet is ~1.2-1.3 (Poisson-like noise of
# ~200 requests a bucket); a bound implied by the policy gets the same allowance.
NOISE = 0.3


def implied_recovery_peak(outage: float) -> float:
    """The recovery peak (over the steady mean) the catch-up policy implies, before noise.

    Overdue secrets (a fraction min(outage, I) / I of all) are spread over W; when the outage is
    shorter than the interval the others keep refreshing at the steady rate meanwhile, so the
    rate is 1 + outage / W; after a longer one every secret is overdue and the catch-up itself
    is the whole traffic: (I / W) = 1 with W = I.
    """
    window = pacing.catch_up_window(outage, INTERVAL)
    return 1.0 + outage / window if outage < INTERVAL else INTERVAL / window


@pytest.mark.parametrize("minutes", [2, 10])
def test_no_burst_after_outage(minutes: int, no_outage: Counter[int]) -> None:
    """The same fleet and seed with an outage, against ``no_outage`` for the rest of the hour."""
    start, end = 1200.0, 1200.0 + minutes * 60
    sim = simulate(start_spread=INTERVAL, outage=(start, end))
    buckets = sim.buckets
    steady_peak, steady = _ratio(buckets, INTERVAL, start)
    # Every agent notices the outage at its next scheduled refresh (within ~10 s here).
    during_peak = _peak(buckets, start + 2 * BUCKET, end) / steady
    during_mean = sum(buckets.get(b, 0) for b in range(int(start // BUCKET), int(end // BUCKET)))
    during_mean /= (end - start) / BUCKET * steady
    minute_after = _peak(buckets, end, end + 60) / steady
    recovery = _peak(buckets, end, sim.caught_up_at + BUCKET) / steady
    later, _ = _ratio(buckets, sim.caught_up_at + BUCKET, HOUR)
    # Peak/mean of 10 s buckets grows with the length of the stretch (more buckets, more
    # noise): the rest of the hour is compared with the same stretch of the same fleet without
    # an outage.
    baseline, _ = _ratio(no_outage, sim.caught_up_at + BUCKET, HOUR)
    implied = implied_recovery_peak(minutes * 60)
    record(
        f"load: outage of {minutes} min, then catch-up",
        tried=sum(buckets.values()),
        lost=0,
        unit="requests",
        steady_peak_over_mean=f"{steady_peak:.2f}",
        during_outage_peak_over_steady=f"{during_peak:.2f}",
        during_outage_mean_over_steady=f"{during_mean:.2f}",
        minute_after_peak_over_steady=f"{minute_after:.2f}",
        catch_up_peak_over_steady=f"{recovery:.2f}",
        implied=f"{implied:.2f}",
        catch_up_took=f"{sim.caught_up_at - end:.0f}s",
        rest_of_hour_peak_over_mean=f"{later:.2f}",
        same_stretch_without_outage=f"{baseline:.2f}",
    )
    assert during_mean <= 1.0  # probes only: one per agent, backing off
    assert during_peak <= steady_peak  # the first seconds: the last scheduled refreshes
    assert minute_after <= implied + NOISE
    assert recovery <= implied + NOISE
    assert sim.caught_up_at - end <= 2 * INTERVAL  # probe wait + window, each <= the interval
    assert later <= max(1.3, baseline + 0.2)  # no lasting bump


def test_simultaneous_fleet_start_spreads_out() -> None:
    """The first refresh after the first sync is drawn over most of the interval
    (``backoff.first_refresh_delay``), so a fleet started at one instant spreads out at once."""
    buckets = simulate(start_spread=0.0).buckets
    ratio, _ = _ratio(buckets, 2 * INTERVAL, HOUR)  # ignore the first two cycles
    record(
        "load: 200 agents started at the same instant",
        tried=sum(buckets.values()),
        lost=0,
        unit="requests",
        peak_over_mean_10s=f"{ratio:.2f}",
    )
    assert ratio <= 1.3
