"""When to try again: jittered refresh intervals and exponential backoff with full jitter.

Pure functions of their arguments; the random source is passed in so tests are deterministic.
"""

from __future__ import annotations

import random

# A backend's Retry-After is honoured as a floor, but never beyond this (a broken header must
# not park a secret for days).
MAX_RETRY_AFTER = 3600.0

JITTER_FRACTION = 0.10
BACKOFF_BASE = 1.0

# The first refresh after a secret's first successful fetch in this process is drawn from
# U(FIRST_REFRESH_LOW, 1.0) x interval (see ``first_refresh_delay``).
FIRST_REFRESH_LOW = 0.05


def jittered_interval(interval: float, rng: random.Random) -> float:
    """Return ``interval`` spread by +-10%, so secrets and hosts do not refresh in lockstep."""
    if interval <= 0:
        raise ValueError("refresh interval must be positive")
    return interval * rng.uniform(1.0 - JITTER_FRACTION, 1.0 + JITTER_FRACTION)


def first_refresh_delay(interval: float, rng: random.Random) -> float:
    """Return the delay before the first refresh after a secret's first successful fetch.

    Uniform over ``[FIRST_REFRESH_LOW, 1.0] x interval``. A fleet started at the same instant
    (a deploy, a power cut) would otherwise stay bunched for hours: +-10% jitter widens each
    cycle by only a fifth of an interval. Drawing the first delay over most of the interval
    spreads the fleet across its whole cycle at once; the upper bound is the interval, so no
    secret is ever refreshed later than configured. The lower bound is the narrowest spread
    that keeps the fleet's peak within 1.3x its mean rate from the third cycle on
    (tests/reliability/test_load.py).
    """
    if interval <= 0:
        raise ValueError("refresh interval must be positive")
    return interval * rng.uniform(FIRST_REFRESH_LOW, 1.0)


def failure_delay(
    failures: int,
    interval: float,
    rng: random.Random,
    *,
    retry_after: float | None = None,
) -> float:
    """Return how long to wait after the ``failures``-th consecutive failure (``failures >= 1``).

    Exponential backoff with full jitter: a uniform draw between 1 s and ``min(interval,
    2**failures)`` seconds (never more than the refresh interval, never less than 1 s unless the
    interval itself is shorter). A backend's ``retry_after`` is a floor (capped at one hour).
    """
    if interval <= 0:
        raise ValueError("refresh interval must be positive")
    floor = min(BACKOFF_BASE, interval)
    exponent = min(max(failures, 1), 30)
    ceiling = min(interval, BACKOFF_BASE * 2.0**exponent)
    delay = rng.uniform(floor, max(floor, ceiling))
    if retry_after is not None and retry_after > 0:
        delay = max(delay, min(retry_after, MAX_RETRY_AFTER))
    return delay
