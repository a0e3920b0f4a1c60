"""The state table: every secret's spec and state, the refresh heap and the outage gate, behind
one lock.

The table is the only owner of the agent's mutable scheduling state. Its operations are narrow
and cost O(secrets involved), never O(all secrets): what is due at ``now`` (``take_due``,
``take_probe``), when the next thing is due (``wake_at``), record the results of a fetch
(``complete``), and what changed since the last look (``changes``, for the publisher). Every next
refresh time is decided by ``policy.next_refresh`` and stored by ``_store``, the one place that
writes ``next_refresh_at``; ``_store`` also notes whether a change is notable
(``state.notable_change``) or routine, so the publisher can write routine ones less often.

A secret is always in exactly one of three places, which is what keeps every secret alive:
queued in the heap at its ``next_refresh_at``; *in flight* (handed out by ``take_due`` or
``take_probe`` and not yet given back to ``complete``/``abandon``); or *held* in the closed
outage gate, whose probe is then always due at ``gate.next_probe_at`` and whose recovery puts
every held secret back in the heap. ``rebuild`` (start, reload) re-queues whatever was in flight.

States are stored as copies and never changed in place (``daemon.state``), so ``changes`` and
``states`` hand out references without copying under the lock.
"""

from __future__ import annotations

import copy
import logging
import random
import threading
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from secrets_agent.daemon import outage, policy
from secrets_agent.daemon.confirm import EVIDENCE_SHARE
from secrets_agent.daemon.leases import lease_timing
from secrets_agent.daemon.refresh_heap import RefreshHeap
from secrets_agent.daemon.siblings import Siblings
from secrets_agent.daemon.state import SecretState, notable_change
from secrets_agent.sources.result import BackendUnavailableError, SourceError

if TYPE_CHECKING:
    from secrets_agent.config.load import SecretSpec
    from secrets_agent.daemon.refresh import RefreshResult

__all__ = ["GROUP_WINDOW", "JOB_ERROR_RETRY", "Done", "SecretTable"]

log = logging.getLogger(__name__)

# Members of a batching source's call that fall due within this fraction of their interval
# are fetched early, together with those due now: AWS reads 20 secrets with one call.
GROUP_WINDOW = 0.25
JOB_ERROR_RETRY = 5.0


@dataclass(frozen=True)
class Done:
    """One fetched secret: its spec, its state after ``refresh``, what ``refresh`` returned and
    the source's error (None when the source delivered data)."""

    spec: SecretSpec
    state: SecretState
    result: RefreshResult
    error: SourceError | None


MIN_COALESCE = 0.05  # seconds: secrets due this close together are always taken together
MAX_COALESCE = 1.0
COALESCE_SHARE = 0.003  # of the shortest refresh interval


def coalesce_window(shortest_interval: float) -> float:
    """How far ahead one wake-up takes due secrets along: 0.3 % of the shortest refresh
    interval, between 50 ms and 1 s. Each wake-up costs a timer and a hand-off to a worker
    whatever it carries, so at long intervals (10,000 secrets every 5 minutes: 33 a second)
    waking once per secret would cost more than the refreshes; taking a secret at most 0.3 %
    of its interval early (well inside its +-10 % jitter) bounds the wake-ups to a few a
    second."""
    return min(MAX_COALESCE, max(MIN_COALESCE, COALESCE_SHARE * shortest_interval))


class SecretTable:
    """Specs, states, the refresh heap and the outage gate. See the module docstring."""

    def __init__(
        self,
        specs: Iterable[SecretSpec],
        *,
        probe_max: float | None = None,
        catch_up_max: float | None = None,
    ) -> None:
        self._lock = threading.Lock()
        self._specs: dict[str, SecretSpec] = {}
        self._coalesce = MIN_COALESCE
        self._shortest = 0.0  # the shortest refresh interval (0: no secrets)
        self._states: dict[str, SecretState] = {}
        self._heap = RefreshHeap()
        self._in_flight: set[str] = set()
        self._probe_in_flight = False
        self._synced: set[str] = set()  # written (or found in place) at least once
        self._refreshed: set[str] = set()  # fetched successfully by this process
        self._dirty: set[str] = set()
        self._notable = False  # a change in ``_dirty`` is notable (``state.notable_change``)
        self._order_changed = True
        self._gate = outage.OutageGate(cap=outage.DEFAULT_PROBE_MAX)
        self._siblings = Siblings(EVIDENCE_SHARE)
        self._confirmed_total = 0  # refreshes confirmed without a read (``daemon.confirm``)
        self.configure(specs, probe_max=probe_max, catch_up_max=catch_up_max)

    # -- configuration -------------------------------------------------------------------

    def configure(
        self,
        specs: Iterable[SecretSpec],
        *,
        probe_max: float | None = None,
        catch_up_max: float | None = None,
        reset: Collection[str] = (),
    ) -> list[SecretState]:
        """Switch to ``specs`` (config order). A secret whose spec changed starts afresh (a new
        state when its path changed, or when it is in ``reset``: its files are gone) and is due
        now; returns the states of removed secrets. ``probe_max``: ``[agent] outage_probe_max``
        (None: ``outage.probe_ceiling`` chooses it from the secrets' intervals);
        ``catch_up_max``: ``[agent] catch_up_window`` (``outage.catch_up_window``)."""
        with self._lock:
            new = {s.target: s for s in specs}
            removed = [st for t, st in self._states.items() if t not in new]
            for target, spec in new.items():
                old = self._specs.get(target)
                if old == spec and target not in reset:
                    continue
                state = self._states.get(target)
                if state is None or state.path != spec.path or target in reset:
                    state = SecretState(path=spec.path, target=target)
                else:
                    state = copy.copy(state)
                    state.stamp = state.files_mark = None  # written under the old spec: read
                state.next_refresh_at = None
                self._states[target] = state
                self._synced.discard(target)
                self._dirty.add(target)
            for st in removed:
                del self._states[st.target]
                self._heap.drop(st.target)
                self._gate.held.pop(st.target, None)
                self._synced.discard(st.target)
                self._dirty.discard(st.target)
            self._specs = new
            self._siblings.configure(new.values())
            intervals = [s.refresh_interval for s in new.values()]
            self._shortest = min(intervals, default=0.0)
            self._coalesce = coalesce_window(self._shortest)
            if probe_max is None:
                self._gate.cap = outage.probe_ceiling(outage.DEFAULT_PROBE_MAX, intervals)
                self._gate.steady_gap = outage.steady_gap(intervals)
            else:  # as configured
                self._gate.cap, self._gate.steady_gap = probe_max, 0.0
            self._gate.catch_up_limit = catch_up_max
            if not new:
                outage.backend_answered(self._gate, 0.0)  # nothing to probe with
            self._order_changed = True
            return removed

    def adopt(
        self,
        target: str,
        *,
        files: Sequence[str],
        version: str | None,
        fetched_at: float | None,
        changed_at: float | None,
        lease: Mapping[str, object] | None = None,
    ) -> None:
        """Take a secret's files from a previous run as in place (``daemon.resume``), with
        the lease they belong to (``daemon.leases.restore_lease``)."""
        with self._lock:
            state = copy.copy(self._states[target])
            for key, value in (lease or {}).items():
                setattr(state, key, value)
            state.files = list(files)
            state.version = version
            state.fetched_at = fetched_at
            state.changed_at = changed_at
            self._states[target] = state
            self._synced.add(target)
            self._dirty.add(target)
            self._notable = True

    # -- queries -------------------------------------------------------------------------

    def coalesce(self) -> float:
        """How far ahead a wake-up takes due secrets along (``coalesce_window``)."""
        return self._coalesce

    def shortest_interval(self) -> float:
        """The shortest refresh interval of the configured secrets (0.0 without secrets)."""
        return self._shortest

    def specs(self) -> list[SecretSpec]:
        with self._lock:
            return list(self._specs.values())

    def spec(self, target: str) -> SecretSpec | None:
        with self._lock:
            return self._specs.get(target)

    def state(self, target: str) -> SecretState | None:
        """A private copy of ``target``'s state (to pass to ``refresh``), or None."""
        with self._lock:
            state = self._states.get(target)
            return None if state is None else copy.copy(state)

    def confirmed_total(self) -> int:
        """Refreshes so far that the source confirmed without a read."""
        with self._lock:
            return self._confirmed_total

    def peek(self, target: str) -> SecretState | None:
        """``target``'s stored state (to look at, never to change), or None."""
        with self._lock:
            return self._states.get(target)

    def states(self) -> list[SecretState]:
        """Every secret's state in config order (stored states: do not change them)."""
        with self._lock:
            return [self._states[t] for t in self._specs]

    def ready(self) -> bool:
        """True once every configured secret has been in place at least once."""
        with self._lock:
            return len(self._synced) == len(self._specs)

    def has_changes(self) -> bool:
        """True if ``changes`` has something to report (a lock-free hint)."""
        return bool(self._dirty) or self._order_changed

    def has_notable_changes(self) -> bool:
        """True if something ``changes`` would report is more than routine (a lock-free hint):
        a notable state change (``state.notable_change``), a new secret, a reload."""
        return self._notable or self._order_changed

    def changes(self) -> tuple[list[SecretState], set[str], bool]:
        """(Every state in config order; the targets whose state changed since the last call;
        whether the configured secrets changed since then). The states are the stored ones
        (do not change them); a caller that keeps none of them between calls lets each
        replaced state go at once, so a sweep of a whole directory never holds two
        generations of states."""
        with self._lock:
            states = [self._states[t] for t in self._specs]
            changed, self._dirty = self._dirty, set()
            reordered = self._order_changed
            self._notable = False
            self._order_changed = False
            return states, changed, reordered

    def gate_open(self) -> bool:
        with self._lock:
            return self._gate.is_open

    def gate(self) -> outage.OutageGate:
        """A copy of the outage gate (for tests and diagnostics)."""
        with self._lock:
            return copy.deepcopy(self._gate)

    def wake_at(self) -> float | None:
        """When the next secret (or the outage probe) is due; None when nothing is queued."""
        with self._lock:
            first = self._heap.next_time()
            times = [] if first is None else [first]
            gate = self._gate
            if not gate.is_open and not self._probe_in_flight and gate.next_probe_at is not None:
                times.append(gate.next_probe_at)
            return min(times) if times else None

    def unscheduled(self) -> set[str]:
        """Secrets with no next wake-up: not queued, not in flight, not held behind a probe
        that is due. Always empty (the liveness tests check it after every step)."""
        with self._lock:
            probe_due = self._probe_in_flight or self._gate.next_probe_at is not None
            held = set(self._gate.held) if not self._gate.is_open and probe_due else set()
            return set(self._specs) - self._heap.targets() - self._in_flight - held

    # -- scheduling ----------------------------------------------------------------------

    def rebuild(self, now: float) -> None:
        """Queue every secret at its next refresh time (now if it has none), forgetting what
        was in flight; held secrets stay with the gate."""
        with self._lock:
            self._heap.clear()
            self._in_flight.clear()
            self._probe_in_flight = False
            closed = not self._gate.is_open
            for target, state in self._states.items():
                if closed and target in self._gate.held:
                    continue
                at = state.next_refresh_at
                self._heap.push(target, now if at is None else at)

    def take_due(self, now: float, rng: random.Random, *, fill_to: int = 1) -> list[SecretSpec]:
        """Hand out the secrets due at ``now`` (they are in flight until ``complete``).

        With ``fill_to`` > 1 the last call is filled up with secrets due within
        ``GROUP_WINDOW`` of their interval. While the outage gate is closed nothing is handed
        out: due secrets are held (files kept, the outage as their error) until it opens.
        """
        with self._lock:
            due = self._heap.pop_until(now)
            if not self._gate.is_open:
                for target in due:
                    self._hold(target, now, rng)
                return []
            if due and fill_to > 1:
                early = GROUP_WINDOW * min(self._specs[t].refresh_interval for t in due)
                while len(due) % fill_to:
                    more = self._heap.pop_until(now + early, count=1)
                    if not more:
                        break
                    due.extend(more)
            self._in_flight.update(due)
            return [self._specs[t] for t in due]

    def take_along(self, directories: Iterable[str], now: float) -> list[SecretSpec]:
        """Hand out the queued secrets of ``directories`` that were not fetched within
        ``EVIDENCE_SHARE`` of their interval and could be confirmed (their last read succeeded
        and left a stamp; a failing one, like a secret catching up after an outage, keeps its
        own schedule), for a listing of those directories to confirm
        (``daemon.siblings``); they are in flight until ``complete``. Nothing while the
        outage gate is closed."""
        with self._lock:
            if not self._gate.is_open:
                return []
            along: list[SecretSpec] = []
            for directory in directories:
                for target in self._siblings.sweep(directory, now):
                    if target in self._in_flight or target not in self._heap:
                        continue
                    spec, state = self._specs[target], self._states[target]
                    if state.last_error is not None or state.stamp is None:
                        continue  # failing, or never read: keeps its own (backoff) schedule
                    fetched_at = state.fetched_at
                    if (
                        fetched_at is None
                        or now - fetched_at < EVIDENCE_SHARE * spec.refresh_interval
                    ):
                        continue
                    self._heap.drop(target)
                    self._in_flight.add(target)
                    along.append(spec)
            return along

    def take_probe(self, now: float) -> SecretSpec | None:
        """The secret to probe the backend with, if the gate is closed and the probe is due."""
        with self._lock:
            gate = self._gate
            if gate.is_open or self._probe_in_flight or not self._specs:
                return None
            if gate.next_probe_at is None or gate.next_probe_at > now:
                return None
            spec = self._specs.get(gate.probe_target or "") or next(iter(self._specs.values()))
            self._probe_in_flight = True
            return spec

    def complete(
        self, done: Sequence[Done], *, probe: bool, now: float, rng: random.Random
    ) -> None:
        """Record the results of one fetch call (``probe``: it was the outage probe, or any
        call made while the backend may be down, like the first sync)."""
        with self._lock:
            if probe:
                self._probe_in_flight = False
            gate = self._gate
            down = [d for d in done if isinstance(d.error, BackendUnavailableError)]
            probe_at = 0.0
            recovery = None
            if down:
                first = down[0].error
                hints = [
                    d.error.retry_after
                    for d in down
                    if isinstance(d.error, BackendUnavailableError) and d.error.retry_after
                ]
                was_open = gate.is_open
                probe_at = outage.backend_down(
                    gate,
                    now,
                    error=str(first),
                    rng=rng,
                    target=down[0].spec.target,
                    retry_after=max(hints) if hints else None,
                    probe=probe,
                )
                if was_open:
                    log.warning("backend unavailable: one probe until it answers (%s)", first)
            elif done:
                recovery = outage.backend_answered(gate, now)
            for d in done:
                target = d.spec.target
                self._in_flight.discard(target)
                self._confirmed_total += d.result.confirmed
                if self._specs.get(target) != d.spec:
                    continue  # removed or changed by a reload meanwhile
                event: policy.Event
                if isinstance(d.error, BackendUnavailableError):
                    before = self._states[target]
                    held = outage.HeldSecret(
                        before.next_refresh_at or now,
                        before.last_error,
                        before.consecutive_failures,
                    )
                    outage.hold(gate, target, held)
                    event = policy.Held(probe_at)
                elif d.result.ok and recovery is not None and target in recovery.held:
                    back = recovery.held[target]
                    event = policy.Recovered(recovery.outage, back.due_at)
                    self._refreshed.add(target)
                    self._synced.add(target)
                elif d.result.ok:
                    event = policy.Fetched(first=target not in self._refreshed)
                    self._refreshed.add(target)
                    self._synced.add(target)
                else:
                    event = policy.Failed(d.result.retry_after)
                self._store(target, d.state, event, now, rng)
                if not d.result.ok:
                    log.warning(
                        "refresh of %s failed (%d in a row), next try in %.1fs: %s",
                        target,
                        d.state.consecutive_failures,
                        max(0.0, (d.state.next_refresh_at or now) - now),
                        d.result.error,
                    )
            if recovery is not None:
                self._catch_up(recovery, {d.spec.target for d in done}, now, rng)
            if not self._in_flight:
                # A set keeps its largest table until cleared: a directory taken along at once
                # (``take_along``) would leave half a megabyte per 10,000 secrets behind.
                self._in_flight.clear()

    def give_back(self, specs: Sequence[SecretSpec]) -> None:
        """Secrets handed out by ``take_due`` whose fetch never started (the backend went down
        meanwhile): queued again at their due time, so the next wake-up holds them."""
        with self._lock:
            for spec in specs:
                target = spec.target
                self._in_flight.discard(target)
                state = self._states.get(target)
                if state is not None and self._specs.get(target) == spec:
                    at = state.next_refresh_at
                    self._heap.push(target, 0.0 if at is None else at)

    def abandon(
        self, specs: Sequence[SecretSpec], *, probe: bool, now: float, rng: random.Random
    ) -> None:
        """A fetch call failed for an unexpected reason (a bug, a full disk): try its secrets
        (and the probe) again in ``JOB_ERROR_RETRY`` seconds."""
        with self._lock:
            if probe:
                self._probe_in_flight = False
                if not self._gate.is_open:
                    self._gate.next_probe_at = now + JOB_ERROR_RETRY
            for spec in specs:
                self._in_flight.discard(spec.target)
                state = self._states.get(spec.target)
                if state is not None and self._specs.get(spec.target) == spec:
                    due = policy.Due(JOB_ERROR_RETRY)
                    self._store(spec.target, copy.copy(state), due, now, rng)

    # -- internals (lock held) -----------------------------------------------------------

    def _store(
        self, target: str, state: SecretState, event: policy.Event, now: float, rng: random.Random
    ) -> None:
        """Store ``state`` with its next refresh decided by the policy; queue it unless held."""
        spec = self._specs[target]
        lease = lease_timing(spec)
        schedule = policy.next_refresh(state, spec.refresh_interval, event, now, rng, lease)
        state.next_refresh_at = schedule.next_refresh_at
        state.resume_at = schedule.resume_at
        state.replace_at = schedule.replace_at
        if not self._notable and notable_change(self._states.get(target), state):
            self._notable = True
        self._states[target] = state
        self._dirty.add(target)
        if isinstance(event, policy.Held):
            self._heap.drop(target)
        else:
            self._heap.push(target, schedule.next_refresh_at)

    def _hold(self, target: str, now: float, rng: random.Random) -> None:
        gate = self._gate
        state = copy.copy(self._states[target])
        held = outage.HeldSecret(
            state.next_refresh_at or now, state.last_error, state.consecutive_failures
        )
        outage.hold(gate, target, held)
        state.last_error = outage.held_error(gate.error)
        state.consecutive_failures += 1
        state.errors_total += 1
        probe_at = gate.next_probe_at if gate.next_probe_at is not None else now
        self._store(target, state, policy.Held(probe_at), now, rng)
        log.debug(
            "refresh of %s failed: the backend is down, waiting for the probe: %s",
            target,
            gate.error,
        )

    def _catch_up(
        self, recovery: outage.Recovery, fetched: set[str], now: float, rng: random.Random
    ) -> None:
        planned = 0
        for target, held in recovery.held.items():
            if target in fetched or target not in self._specs:
                continue
            state = copy.copy(self._states[target])
            has_file = target in self._synced
            if has_file:  # serving its last good value, and the backend answers again
                state.last_error = held.last_error
                state.consecutive_failures = held.consecutive_failures
            event = policy.CatchUp(
                recovery.outage, held.due_at, has_file, window_limit=recovery.catch_up_limit
            )
            self._store(target, state, event, now, rng)
            planned += 1
        log.info(
            "backend answers again after %.0fs; catching up %d secret(s)", recovery.outage, planned
        )
