"""Backoff and jitter: pure functions driven by a seeded random source."""

from __future__ import annotations

import random

import pytest
from secrets_agent.daemon.backoff import MAX_RETRY_AFTER, failure_delay, jittered_interval


def test_jittered_interval_stays_within_ten_percent() -> None:
    rng = random.Random(1)
    values = [jittered_interval(300.0, rng) for _ in range(2000)]
    assert min(values) >= 270.0
    assert max(values) <= 330.0
    # Spread, not a constant: both halves of the window are used.
    assert min(values) < 285.0 < 315.0 < max(values)


def test_failure_delay_grows_exponentially_then_caps_at_interval() -> None:
    rng = random.Random(2)
    for failures, ceiling in [(1, 2.0), (2, 4.0), (3, 8.0), (6, 64.0), (9, 300.0), (40, 300.0)]:
        delays = [failure_delay(failures, 300.0, rng) for _ in range(500)]
        assert min(delays) >= 1.0
        assert max(delays) <= ceiling
        # Full jitter: draws land across the whole window.
        assert max(delays) > 1.0 + (ceiling - 1.0) * 0.8


def test_failure_delay_never_exceeds_a_short_interval() -> None:
    rng = random.Random(3)
    delays = [failure_delay(5, 0.5, rng) for _ in range(100)]
    assert all(d == pytest.approx(0.5) for d in delays)


def test_retry_after_is_a_floor() -> None:
    rng = random.Random(4)
    assert failure_delay(1, 300.0, rng, retry_after=42.0) >= 42.0
    # Larger than the interval is still honoured, but capped.
    assert failure_delay(1, 10.0, rng, retry_after=30.0) >= 30.0
    assert failure_delay(1, 10.0, rng, retry_after=10**9) == MAX_RETRY_AFTER


@pytest.mark.parametrize("interval", [0.0, -1.0])
def test_non_positive_interval_is_rejected(interval: float) -> None:
    with pytest.raises(ValueError):
        jittered_interval(interval, random.Random())
    with pytest.raises(ValueError):
        failure_delay(1, interval, random.Random())
