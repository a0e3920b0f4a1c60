"""The agent-wide outage gate: one probe while the backend is down, a spread-out catch-up after.

A fetch that fails with ``BackendUnavailableError`` (sealed, refused, timeout, 5xx, throttled)
says the whole backend is down, not one secret. Retrying every secret on its own would multiply a
fleet's request rate during an outage and land all that retry traffic right after recovery, so
the agent closes a gate instead:

* while the gate is closed, secrets that come due do not call the backend (they keep their files
  and report the outage); ONE probe per agent runs, backing off exponentially with full jitter
  from 1 s up to the probe's own ceiling, in seconds, not the refresh interval: ``[agent]
  outage_probe_max`` when set, else :func:`probe_ceiling` (5 s, raised for an agent with few
  secrets so that its probes never outnumber its steady refreshes), so a recovery is noticed
  within seconds whatever the refresh interval; ``Retry-After`` is a floor
  (:func:`secrets_agent.daemon.backoff.failure_delay`);
* when the probe (or any fetch) gets an answer the gate opens: held secrets that have no good
  file yet are fetched at once; overdue secrets that have one get their pre-outage status back
  (they are serving their last good value and the backend answers) and are fetched spread
  uniformly over a catch-up window ``W = min(0.9 x interval, max(2 x outage, 10 s))``,
  so a fleet's recovery peak stays near ``1 + outage / W`` times its steady rate, with no
  synchronised burst (``[agent] catch_up_window`` caps ``W`` for an agent that must be fresh
  again within seconds and whose backend can take the burst: then every overdue secret is read
  within that many seconds of the return);
* a caught-up secret then returns to the place in the refresh cycle it held before the outage
  (:func:`resume_at`), so the catch-up does not leave a lasting bump in the fleet's schedule.

Per-secret errors (access denied, missing, invalid response, render or write failures) never
touch the gate: they keep the per-secret backoff of :mod:`secrets_agent.daemon.policy`.

Everything here is a plain function of its inputs (the time and a random source are passed in);
:class:`OutageGate` is bookkeeping of the state table (``daemon.table``), mutated only by these
functions under the table's lock.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable
from dataclasses import dataclass, field

from secrets_agent.daemon.backoff import JITTER_FRACTION, failure_delay

__all__ = [
    "DEFAULT_PROBE_MAX",
    "MIN_CATCH_UP_WINDOW",
    "HeldSecret",
    "OutageGate",
    "Recovery",
    "backend_answered",
    "backend_down",
    "catch_up_window",
    "held_error",
    "hold",
    "probe_ceiling",
    "probe_delay",
    "resume_at",
    "steady_gap",
]

MIN_CATCH_UP_WINDOW = 10.0
DEFAULT_PROBE_MAX = 5.0
# The probe's mean wait is about half its ceiling: a ceiling of three mean gaps between the
# agent's steady refreshes keeps its probes below two thirds of its steady request rate.
PROBE_GAPS = 3.0


def steady_gap(intervals: Iterable[float]) -> float:
    """The mean gap between an agent's steady refreshes (seconds): 1 / sum(1 / interval)."""
    rate = sum(1.0 / i for i in intervals if i > 0)
    return 1.0 / rate if rate else 0.0


def probe_ceiling(probe_max: float, intervals: Iterable[float]) -> float:
    """The outage probe's default backoff ceiling for an agent refreshing at ``intervals``.

    ``probe_max`` (seconds), raised for an agent with few secrets so that while the backend is
    down it never asks more often than its steady refreshes would (``PROBE_GAPS`` mean gaps
    between them), and never above its shortest refresh interval. An agent of 5,000 secrets at
    5 minutes probes every 1-5 s; one of 30 secrets at 5 minutes every 1-30 s.
    """
    intervals = [i for i in intervals if i > 0]
    if not intervals:
        return probe_max
    return min(min(intervals), max(probe_max, PROBE_GAPS * steady_gap(intervals)))


@dataclass(frozen=True)
class HeldSecret:
    """A secret that came due while the gate was closed: when it was due, and the error state
    it had before the outage (given back when the backend answers again)."""

    due_at: float
    last_error: str | None
    consecutive_failures: int


@dataclass
class OutageGate:
    """Agent-wide outage state. Open (``down_since is None``) while the backend answers.

    ``cap`` is the probe's backoff ceiling (:func:`probe_ceiling`), ``steady_gap`` the mean gap
    between the agent's steady refreshes (:func:`steady_gap`), ``catch_up_limit`` the longest
    catch-up window (:func:`catch_up_window`; None: as long as the rule says). ``held`` maps
    each secret that came due while the gate was closed to its ``HeldSecret``.
    """

    cap: float
    steady_gap: float = 0.0
    catch_up_limit: float | None = None  # ``[agent] catch_up_window``
    down_since: float | None = None
    error: str | None = None
    failed_probes: int = 0
    next_probe_at: float | None = None
    probe_target: str | None = None
    last_failure_at: float | None = None
    held: dict[str, HeldSecret] = field(default_factory=dict)

    @property
    def is_open(self) -> bool:
        """True while the backend is considered up: scheduled refreshes may call it."""
        return self.down_since is None


@dataclass(frozen=True)
class Recovery:
    """An outage that just ended: how long the gate was closed, when the backend was last seen
    down, and the secrets held meanwhile."""

    outage: float
    last_failure_at: float
    held: dict[str, HeldSecret]
    catch_up_limit: float | None = None


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
        gate.next_probe_at = now + probe_delay(gate, rng, retry_after=retry_after)
    else:
        floor = now + retry_after if retry_after else now
        gate.next_probe_at = max(gate.next_probe_at or floor, floor)
    assert gate.next_probe_at is not None
    return gate.next_probe_at


def probe_delay(gate: OutageGate, rng: random.Random, *, retry_after: float | None = None) -> float:
    """The wait before the next probe after ``gate.failed_probes`` failed ones: exponential
    backoff with full jitter up to ``gate.cap`` (``backoff.failure_delay``), the ceiling starting
    at ``gate.steady_gap`` (the mean gap between the agent's steady refreshes) so that even the
    first probes of a small agent are not more frequent than its refreshes were."""
    failures = max(gate.failed_probes, 1)
    if gate.steady_gap > 2.0:
        failures = max(failures, math.ceil(math.log2(gate.steady_gap)))
    return failure_delay(failures, gate.cap, rng, retry_after=retry_after)


def hold(gate: OutageGate, target: str, held: HeldSecret) -> None:
    """Note that ``target`` came due while the gate was closed (its first hold is kept)."""
    gate.held.setdefault(target, held)


def backend_answered(gate: OutageGate, now: float) -> Recovery | None:
    """The backend answered a fetch: open the gate. Returns the ``Recovery``, or None if the
    gate was open already."""
    if gate.down_since is None:
        return None
    recovery = Recovery(
        outage=max(0.0, now - gate.down_since),
        last_failure_at=gate.last_failure_at if gate.last_failure_at is not None else now,
        held=dict(gate.held),
        catch_up_limit=gate.catch_up_limit,
    )
    gate.down_since = None
    gate.error = None
    gate.failed_probes = 0
    gate.next_probe_at = None
    gate.probe_target = None
    gate.last_failure_at = None
    gate.held.clear()
    return recovery


def catch_up_window(outage: float, interval: float, limit: float | None = None) -> float:
    """``W = min(0.9 x interval, max(2 x outage, MIN_CATCH_UP_WINDOW))``: over how long overdue
    secrets are spread after an outage of ``outage`` seconds; never longer than ``limit``
    (``[agent] catch_up_window``) when one is set.

    At most 0.9 of the interval: a secret caught up at the start of the window is due again
    0.9-1.1 intervals later, and a longer window would overlap its end with that next round.
    """
    window = min((1.0 - JITTER_FRACTION) * interval, max(2.0 * outage, MIN_CATCH_UP_WINDOW))
    return window if limit is None else min(window, limit)


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


def held_error(probe_error: str | None) -> str:
    """The ``last_error`` of a secret not fetched because the gate is closed."""
    return f"not fetched while the backend is down (outage probe: {probe_error or 'failed'})"
