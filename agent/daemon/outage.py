"""The agent-wide outage gate: one probe while the backend is down, a spread-out catch-up after.

A fetch that fails with ``BackendUnavailableError`` (sealed, refused, timeout, 5xx, throttled)
says the whole backend is down, not one secret. Retrying every secret on its own would multiply a
fleet's request rate during an outage and land all that retry traffic right after recovery, so
the agent closes a gate instead:

* while the gate is closed, secrets that come due do not call the backend (they keep their files
  and report the outage); ONE probe per agent runs, backing off exponentially with full jitter
  from 1 s up to the agent's shortest refresh interval, with ``Retry-After`` as a floor
  (:func:`secrets_agent.daemon.backoff.failure_delay`);
* when the probe (or any fetch) gets an answer the gate opens: held secrets that have no good
  file yet are fetched at once; overdue secrets that have one are spread uniformly over a
  catch-up window ``W = min(interval, max(2 x outage, MIN_CATCH_UP_WINDOW))``, so a fleet's
  recovery peak stays near ``1 + outage / W`` times its steady rate, with no synchronised burst,
  and each waits about the outage length on average;
* a caught-up secret then returns to the place in the refresh cycle it held before the outage
  (:func:`resume_at`), so the catch-up does not leave a lasting bump in the fleet's schedule.

Per-secret errors (access denied, missing, invalid response, render or write failures) never
touch the gate: they keep the per-secret backoff of :mod:`secrets_agent.daemon.refresh`.

Everything here is a plain function of its inputs (the time and a random source are passed in);
:class:`OutageGate` is the agent's bookkeeping, mutated only by these functions.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field

from secrets_agent.daemon.backoff import failure_delay

__all__ = [
    "MIN_CATCH_UP_WINDOW",
    "CatchUp",
    "OutageGate",
    "Recovery",
    "backend_answered",
    "backend_down",
    "catch_up",
    "catch_up_window",
    "hold",
    "resume_at",
]

MIN_CATCH_UP_WINDOW = 10.0


@dataclass
class OutageGate:
    """Agent-wide outage state. Open (``down_since is None``) while the backend answers.

    ``cap`` is the probe's backoff ceiling: the agent's shortest refresh interval. ``held`` maps
    each secret that came due while the gate was closed to the time it was due.
    """

    cap: float
    down_since: float | None = None
    error: str | None = None
    failed_probes: int = 0
    next_probe_at: float | None = None
    probe_target: str | None = None
    last_failure_at: float | None = None
    held: dict[str, float] = field(default_factory=dict)

    @property
    def is_open(self) -> bool:
        """True while the backend is considered up: scheduled refreshes may call it."""
        return self.down_since is None


@dataclass(frozen=True)
class Recovery:
    """An outage that just ended: how long the gate was closed, when the backend was last seen
    down, and the secrets held meanwhile (target -> when it was due)."""

    outage: float
    last_failure_at: float
    held: dict[str, float]


@dataclass(frozen=True)
class CatchUp:
    """When a held secret is fetched after the outage, and the slot it resumes afterwards."""

    fetch_at: float
    resume_at: float | None  # None: no slot to return to (fetched at once, or never due)


def backend_down(
    gate: OutageGate,
    now: float,
    *,
    error: str,
    rng: random.Random,
    target: str,
    retry_after: float | None = None,
    probe: bool = False,
) -> float:
    """Record a backend-wide failure of a fetch of ``target``; return the next probe time.

    Closes an open gate (``target`` becomes the probe). A failed ``probe`` backs the probe off
    one step further; a failure of a fetch that was already in flight when the gate closed only
    raises the next probe time to its ``retry_after``.
    """
    if gate.is_open:
        gate.down_since = now
        gate.failed_probes = 0
        gate.probe_target = target
        gate.held.clear()
        probe = True
    gate.error = error
    gate.last_failure_at = max(now, gate.last_failure_at or now)
    if probe:
        gate.failed_probes += 1
        gate.next_probe_at = now + failure_delay(
            gate.failed_probes, gate.cap, rng, retry_after=retry_after
        )
    else:
        floor = now + retry_after if retry_after else now
        gate.next_probe_at = max(gate.next_probe_at or floor, floor)
    assert gate.next_probe_at is not None
    return gate.next_probe_at


def hold(gate: OutageGate, target: str, due_at: float) -> None:
    """Note that ``target`` came due (at ``due_at``) while the gate was closed."""
    gate.held.setdefault(target, due_at)


def backend_answered(gate: OutageGate, now: float) -> Recovery | None:
    """The backend answered a fetch: open the gate. Returns the ``Recovery``, or None if the
    gate was open already."""
    if gate.down_since is None:
        return None
    recovery = Recovery(
        outage=max(0.0, now - gate.down_since),
        last_failure_at=gate.last_failure_at if gate.last_failure_at is not None else now,
        held=dict(gate.held),
    )
    gate.down_since = None
    gate.error = None
    gate.failed_probes = 0
    gate.next_probe_at = None
    gate.probe_target = None
    gate.last_failure_at = None
    gate.held.clear()
    return recovery


def catch_up_window(outage: float, interval: float) -> float:
    """``W = min(interval, max(2 x outage, MIN_CATCH_UP_WINDOW))``: over how long overdue
    secrets are spread after an outage of ``outage`` seconds."""
    return min(interval, max(2.0 * outage, MIN_CATCH_UP_WINDOW))


def resume_at(due_at: float, fetched_at: float, interval: float) -> float:
    """The first time after ``fetched_at`` at which the secret's pre-outage cycle (a refresh
    every ``interval`` from ``due_at``) comes round again, at least a tenth of an interval on.

    Returning to that slot keeps the fleet's refreshes spread as they were before the outage.
    """
    earliest = fetched_at + 0.1 * interval
    if due_at >= earliest:
        return due_at
    cycles = -(-(earliest - due_at) // interval)  # ceil
    return due_at + cycles * interval


def catch_up(
    recovery: Recovery,
    has_file: Mapping[str, bool],
    intervals: Mapping[str, float],
    *,
    now: float,
    rng: random.Random,
) -> dict[str, CatchUp]:
    """Plan the fetch of every secret held during ``recovery`` (the gate opened at ``now``).

    Secrets without a good file are fetched at once. The others are spread uniformly over the
    catch-up window of their refresh interval. After an outage shorter than the interval, a
    caught-up secret then returns to its pre-outage slot (``resume_at``); after a longer one
    every slot was missed, and the catch-up time itself becomes the secret's new place in the
    cycle.
    """
    plan: dict[str, CatchUp] = {}
    for target, due_at in recovery.held.items():
        interval = intervals[target]
        if not has_file.get(target, False):
            plan[target] = CatchUp(fetch_at=now, resume_at=None)
            continue
        window = catch_up_window(recovery.outage, interval)
        fetch_at = now + rng.uniform(0.0, window)
        resume = resume_at(due_at, fetch_at, interval) if recovery.outage < interval else None
        plan[target] = CatchUp(fetch_at=fetch_at, resume_at=resume)
    return plan


def held_error(probe_error: str | None) -> str:
    """The ``last_error`` of a secret not fetched because the gate is closed."""
    return f"not fetched while the backend is down (outage probe: {probe_error or 'failed'})"
