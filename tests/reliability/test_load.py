"""Load: 200 agents' refresh schedules against one backend over an hour of simulated time.

No processes: each secret's schedule is driven by the agent's own ``refresh()`` step (which
applies ``jittered_interval`` after a success and ``failure_delay`` after a failure) with an
injected clock and a seeded random source per agent; the backend is a counter of requests per
10 s bucket. Reported: peak/mean request rate in steady state, and in the minute after a backend
outage ends (no synchronised retry burst).
"""

from __future__ import annotations

import heapq
import logging
import random
from collections import Counter
from typing import Any

import pytest
from reliability_helpers import record, spec
from secrets_agent.model import BackendUnavailableError, SecretData, SecretState
from secrets_agent.refresh import refresh

AGENTS = 200
SECRETS_PER_AGENT = 30  # 6,000 secrets: ~200 requests per 10 s bucket at a 5 min interval
INTERVAL = 300.0
HOUR = 3600.0
BUCKET = 10.0


class _NullWriter:
    def write(self, *_: Any, **__: Any) -> bool:
        return False

    def remove(self, *_: Any) -> bool:
        return False


def simulate(
    *, start_spread: float, outage: tuple[float, float] | None = None, seed: int = 11
) -> Counter[int]:
    """Requests per bucket over one hour. Agents start uniformly within ``start_spread`` s."""
    master = random.Random(seed)
    writer: Any = _NullWriter()
    data = SecretData(fields={"k": "v"}, raw="{}", version="1")
    down = BackendUnavailableError("sealed")
    events: list[tuple[float, int, int]] = []
    items: list[tuple[Any, SecretState, random.Random]] = []
    for a in range(AGENTS):
        rng = random.Random(master.random())
        start = master.uniform(0, start_spread) if start_spread else 0.0
        for s in range(SECRETS_PER_AGENT):
            sp = spec(f"a{a}/s{s}", interval=INTERVAL)
            items.append((sp, SecretState(path=sp.path, target=sp.target), rng))
            heapq.heappush(events, (start, len(items) - 1, 0))
    buckets: Counter[int] = Counter()
    quiet = logging.getLogger("secrets_agent.refresh")
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        while events:
            now, index, _ = heapq.heappop(events)
            if now >= HOUR:
                break
            buckets[int(now // BUCKET)] += 1
            sp, state, rng = items[index]
            failing = outage is not None and outage[0] <= now < outage[1]
            result = refresh(sp, down if failing else data, writer, state, now=now, rng=rng)
            heapq.heappush(events, (result.next_run_at, index, 0))
    finally:
        quiet.setLevel(level)
    return buckets


def _ratio(buckets: Counter[int], lo: float, hi: float) -> tuple[float, float]:
    window = [buckets.get(b, 0) for b in range(int(lo // BUCKET), int(hi // BUCKET))]
    mean = sum(window) / len(window)
    return max(window) / mean, mean


def test_steady_state_rate_is_flat() -> None:
    """A fleet that came up over one interval (rolling deploys, reboots) stays spread out."""
    buckets = simulate(start_spread=INTERVAL)
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


@pytest.mark.xfail(
    strict=True,
    reason="every secret backs off on its own from a 1-2 s first retry (backoff.failure_delay), "
    "so an outage multiplies the request rate and the recovery minute carries that retry traffic",
)
@pytest.mark.parametrize("minutes", [2, 10])
def test_no_burst_after_outage(minutes: int) -> None:
    start, end = 1200.0, 1200.0 + minutes * 60
    buckets = simulate(start_spread=INTERVAL, outage=(start, end))
    _, steady = _ratio(buckets, 0, start)
    after = [buckets.get(b, 0) for b in range(int(end // BUCKET), int((end + 60) // BUCKET))]
    later, _ = _ratio(buckets, end + 60, HOUR)
    peak_after = max(after) / steady
    during = [buckets.get(b, 0) for b in range(int(start // BUCKET), int(end // BUCKET))]
    record(
        f"load: outage of {minutes} min, minute after recovery",
        tried=sum(buckets.values()),
        lost=0,
        unit="requests",
        peak_over_steady_mean=f"{peak_after:.2f}",
        peak_during_outage_over_steady=f"{max(during) / steady:.2f}",
        rest_of_hour_peak_over_mean=f"{later:.2f}",
    )
    assert peak_after <= 1.3
    assert later <= 1.3


@pytest.mark.xfail(
    strict=True,
    reason="a fleet started at the same instant stays bunched for hours: +-10% jitter after the "
    "first sync (backoff.jittered_interval via refresh._write) spreads each cycle by only 60 s",
)
def test_simultaneous_fleet_start_spreads_out() -> None:
    buckets = simulate(start_spread=0.0)
    ratio, _ = _ratio(buckets, 2 * INTERVAL, HOUR)  # ignore the first two cycles
    record(
        "load: 200 agents started at the same instant",
        tried=sum(buckets.values()),
        lost=0,
        unit="requests",
        peak_over_mean_10s=f"{ratio:.2f}",
    )
    assert ratio <= 1.3
