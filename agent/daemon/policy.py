"""When a secret is refreshed next: the one function that decides ``next_refresh_at``.

``next_refresh`` is a pure function of the secret's state, what just happened to it (an
``Event``), the time and a random source. Every change of a secret's schedule goes through it
(``SecretTable`` stores its answer), so the rules live here and nowhere else:

* ``Fetched``: one interval +-10 % later (``backoff.jittered_interval``); after the secret's first
  success in this process, a delay drawn over most of the interval instead
  (``backoff.first_refresh_delay``: a fleet started at one instant spreads out at once); after a
  catch-up fetch, the slot it held before the outage (``outage.resume_at``);
* ``Recovered``: the fetch that ended an outage (the probe's) returns its secret to its
  pre-outage slot, like a caught-up one;
* ``Failed``: exponential backoff with full jitter from 1 s to the interval, never earlier than
  ``Retry-After`` (``backoff.failure_delay``);
* ``Held``: the backend is down; the secret waits for the outage probe;
* ``CatchUp``: the backend is back; at once without a good file, else a uniform draw over the
  catch-up window (``outage.catch_up_window``), remembering the pre-outage slot to return to
  (after an outage longer than the interval every slot was missed: the catch-up time becomes
  the secret's place in the cycle);
* ``Due``: now (a new or changed secret), or after a short delay (a refresh job that failed
  for an unexpected reason: the schedule is never lost over a bug or a full disk).

A leased secret (``kind = "lease"``, with its ``LeaseTiming``) that holds a lease is not
refreshed on an interval: ``lease_plan`` puts its next fetch at ``renew_at`` of the lease's
duration (a renewal), or, for a lease the server cannot extend any more (max TTL) or that is not
renewable, ``replace_margin`` before its end (a replacement); a certificate is re-issued at
``renew_at`` of its validity (notBefore to notAfter). ``lease_action`` says which of the two the
fetch at that time is. A failed fetch backs off as usual, but never past a quarter of the time
the lease has left.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from secrets_agent.daemon.backoff import failure_delay, first_refresh_delay, jittered_interval
from secrets_agent.daemon.outage import catch_up_window, resume_at
from secrets_agent.daemon.state import SecretState

__all__ = [
    "CatchUp",
    "Due",
    "Event",
    "Failed",
    "Fetched",
    "Held",
    "LeaseTiming",
    "Recovered",
    "Schedule",
    "lease_action",
    "lease_plan",
    "next_refresh",
]


@dataclass(frozen=True)
class Fetched:
    """A successful fetch; ``first``: the secret's first success in this process."""

    first: bool


@dataclass(frozen=True)
class Recovered:
    """A successful fetch that ended an outage (the probe's): the secret had been due at
    ``due_at`` and the backend was down for ``outage`` seconds."""

    outage: float
    due_at: float


@dataclass(frozen=True)
class Failed:
    """A failed fetch, render or write (``state.consecutive_failures`` already counts it)."""

    retry_after: float | None = None


@dataclass(frozen=True)
class Held:
    """Not fetched (or failed) while the backend is down: wait for the probe at ``probe_at``."""

    probe_at: float


@dataclass(frozen=True)
class CatchUp:
    """The backend answers again after ``outage`` seconds; the secret was due at ``due_at``."""

    outage: float
    due_at: float
    has_file: bool
    window_limit: float | None = None  # ``[agent] catch_up_window``


@dataclass(frozen=True)
class Due:
    """Refresh ``delay`` seconds from now."""

    delay: float = 0.0


Event = Fetched | Recovered | Failed | Held | CatchUp | Due


@dataclass(frozen=True)
class Schedule:
    """The answer: when to refresh next, and the pre-outage slot to return to after that;
    for a lease, when it is replaced."""

    next_refresh_at: float
    resume_at: float | None = None
    replace_at: float | None = None


@dataclass(frozen=True)
class LeaseTiming:
    """A leased secret's settings: renew at ``renew_at`` of a lease's duration, replace a lease
    that cannot be extended ``margin`` seconds before its end."""

    renew_at: float
    margin: float


def lease_plan(state: SecretState, timing: LeaseTiming, now: float) -> tuple[float, float]:
    """(When to fetch next, when the lease is replaced) for a state that holds a lease."""
    at, replace = _lease_points(state, timing, now)
    return max(now, at), max(now, replace)


def lease_action(state: SecretState, timing: LeaseTiming, now: float) -> str:
    """``"renew"`` the lease in force, ``"keep"`` it (a certificate or a lease that cannot be
    renewed, not due yet: after a restart) or ``"issue"`` a new one."""
    if state.lease_expires_at is None:
        return "issue"
    _, replace = _lease_points(state, timing, now)
    if now >= replace:
        return "issue"
    if state.lease_id and state.lease_renewable and not state.lease_final:
        return "renew"
    return "keep"


def _lease_points(state: SecretState, timing: LeaseTiming, now: float) -> tuple[float, float]:
    """(Renewal or replacement time, replacement time), not clamped to ``now``.

    The margin is at most ``1 - renew_at`` of the lease's duration (half that for a renewable
    lease, so its renewal comes first), so a lease shorter than the margin is still used for
    ``renew_at`` of its life instead of being replaced at once. A lease at its max TTL is
    replaced the whole margin before its end.
    """
    expires = state.lease_expires_at
    assert expires is not None
    if state.lease_final:
        return expires - timing.margin, expires - timing.margin
    start = state.lease_started_at if state.lease_started_at is not None else now
    duration = max(0.0, expires - start)
    if state.lease_duration and state.lease_id and state.lease_renewable:
        duration = state.lease_duration
    point = start + timing.renew_at * duration
    if state.lease_id and state.lease_renewable:  # replaced only if renewals keep failing
        margin = min(timing.margin, (1.0 - timing.renew_at) / 2 * duration)
        return min(point, expires - margin), expires - margin
    margin = min(timing.margin, (1.0 - timing.renew_at) * duration)
    replace = min(point, expires - margin)
    return replace, replace


def next_refresh(
    state: SecretState,
    interval: float,
    event: Event,
    now: float,
    rng: random.Random,
    lease: LeaseTiming | None = None,
) -> Schedule:
    """When ``state``'s secret (refreshed every ``interval`` s) runs next after ``event``;
    ``lease``: the secret is leased (its lease, if it holds one, decides)."""
    if lease is None or state.lease_expires_at is None:
        return _interval_schedule(state, interval, event, now, rng)
    at, replace = lease_plan(state, lease, now)
    match event:
        case Fetched() | Recovered():
            return Schedule(at, replace_at=replace)
        case Failed() | CatchUp():
            schedule = _interval_schedule(state, interval, event, now, rng)
            left = state.lease_expires_at - now
            soonest = schedule.next_refresh_at
            if left > 0:
                soonest = min(soonest, now + max(1.0, left / 4))
            return Schedule(soonest, replace_at=replace)
        case _:
            schedule = _interval_schedule(state, interval, event, now, rng)
            return Schedule(schedule.next_refresh_at, schedule.resume_at, replace)


def _interval_schedule(
    state: SecretState, interval: float, event: Event, now: float, rng: random.Random
) -> Schedule:
    match event:
        case Fetched(first=first):
            if state.resume_at is not None and state.resume_at > now:
                return Schedule(state.resume_at)
            delay = (
                first_refresh_delay(interval, rng) if first else jittered_interval(interval, rng)
            )
            return Schedule(now + delay)
        case Recovered(outage=outage, due_at=due_at):
            if outage < interval:
                return Schedule(resume_at(due_at, now, interval))
            return Schedule(now + jittered_interval(interval, rng))
        case Failed(retry_after=retry_after):
            failures = max(1, state.consecutive_failures)
            return Schedule(now + failure_delay(failures, interval, rng, retry_after=retry_after))
        case Held(probe_at=probe_at):
            return Schedule(probe_at)
        case CatchUp(outage=outage, due_at=due_at, has_file=has_file, window_limit=limit):
            if not has_file:
                return Schedule(now)
            fetch_at = now + rng.uniform(0.0, catch_up_window(outage, interval, limit))
            if outage < interval:
                return Schedule(fetch_at, resume_at(due_at, fetch_at, interval))
            return Schedule(fetch_at)  # every slot missed: the catch-up time is its new place
        case Due(delay=delay):
            return Schedule(now + delay)
