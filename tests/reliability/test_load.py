"""Load: 200 agents' refresh schedules against one backend over an hour of simulated time.

No processes: each secret's schedule is driven by the agent's own ``refresh()`` step (which
applies ``first_refresh_delay`` after a first success, ``jittered_interval`` after later ones and
``failure_delay`` after a failure), and each agent's outage gate by the agent's own
``daemon.outage`` functions (one probe while the backend is down, catch-up spread over a
window after it returns), with an injected clock and a seeded random source per agent; the
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
from reliability_helpers import record, spec
from secrets_agent.daemon import outage as pacing
from secrets_agent.daemon.refresh import refresh
from secrets_agent.daemon.state import SecretState
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


REFRESH, PROBE = 0, 1


class Simulation:
    """Requests per bucket over one hour; ``caught_up_at`` is when the last catch-up ran."""

    def __init__(self) -> None:
        self.buckets: Counter[int] = Counter()
        self.caught_up_at = 0.0


def simulate(
    *, start_spread: float, outage: tuple[float, float] | None = None, seed: int = 11
) -> Simulation:
    """Agents start uniformly within ``start_spread`` s; the backend is down during ``outage``.

    Each agent does what ``secrets_agent.daemon.agent`` does with its gate: a due secret calls the
    backend only while the gate is open (else it is held); a backend-wide failure closes the gate
    and schedules the probe; the probe's success opens it and plans the held secrets' catch-up,
    after which each resumes the slot the plan gives it.
    """
    master = random.Random(seed)
    writer: Any = _NullWriter()
    data = SecretData(fields={"k": "v"}, raw="{}", version="1")
    down = BackendUnavailableError("sealed")
    events: list[tuple[float, int, int]] = []
    items: list[tuple[Any, SecretState, random.Random, pacing.OutageGate]] = []
    resume: dict[int, float | None] = {}
    for _ in range(AGENTS):
        rng = random.Random(master.random())
        gate = pacing.OutageGate(cap=INTERVAL)
        start = master.uniform(0, start_spread) if start_spread else 0.0
        for s in range(SECRETS_PER_AGENT):
            sp = spec(f"a{len(items) // SECRETS_PER_AGENT}/s{s}", interval=INTERVAL)
            items.append((sp, SecretState(path=sp.path, target=sp.target), rng, gate))
            heapq.heappush(events, (start, len(items) - 1, REFRESH))
    sim = Simulation()
    quiet = logging.getLogger("secrets_agent.daemon.refresh")
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        while events:
            now, index, kind = heapq.heappop(events)
            if now >= HOUR:
                break
            sp, state, rng, gate = items[index]
            if kind == REFRESH and not gate.is_open:
                pacing.hold(gate, str(index), now)  # no request: waits for the gate
                continue
            sim.buckets[int(now // BUCKET)] += 1
            failing = outage is not None and outage[0] <= now < outage[1]
            result = refresh(sp, down if failing else data, writer, state, now=now, rng=rng)
            if failing:
                probe_at = pacing.backend_down(
                    gate, now, error=str(down), rng=rng, target=str(index), probe=kind == PROBE
                )
                heapq.heappush(events, (probe_at, index, PROBE))
                continue
            recovery = pacing.backend_answered(gate, now)
            slot = resume.pop(index, None)
            heapq.heappush(events, (slot if slot is not None else result.next_run_at, index, 0))
            if recovery is not None:
                recovery.held.pop(str(index), None)
                plan = pacing.catch_up(
                    recovery,
                    {t: True for t in recovery.held},
                    {t: INTERVAL for t in recovery.held},
                    now=now,
                    rng=rng,
                )
                for target, step in plan.items():
                    resume[int(target)] = step.resume_at
                    heapq.heappush(events, (step.fetch_at, int(target), REFRESH))
                    sim.caught_up_at = max(sim.caught_up_at, step.fetch_at)
    finally:
        quiet.setLevel(level)
    return sim


def _ratio(buckets: Counter[int], lo: float, hi: float) -> tuple[float, float]:
    window = [buckets.get(b, 0) for b in range(int(lo // BUCKET), int(hi // BUCKET))]
    mean = sum(window) / len(window)
    return max(window) / mean, mean


def _peak(buckets: Counter[int], lo: float, hi: float) -> int:
    return max(buckets.get(b, 0) for b in range(int(lo // BUCKET), int(hi // BUCKET)))


def test_steady_state_rate_is_flat() -> None:
    """A fleet that came up over one interval (rolling deploys, reboots) stays spread out."""
    buckets = simulate(start_spread=INTERVAL).buckets
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
def test_no_burst_after_outage(minutes: int) -> None:
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
    )
    assert during_mean <= 1.0  # probes only: one per agent, backing off
    assert during_peak <= steady_peak  # the first seconds: the last scheduled refreshes
    assert minute_after <= implied + NOISE
    assert recovery <= implied + NOISE
    assert sim.caught_up_at - end <= 2 * INTERVAL  # probe wait + window, each <= the interval
    assert later <= 1.3


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
