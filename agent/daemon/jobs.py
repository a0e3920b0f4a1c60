"""Background jobs of the agent: one refresh job per secret (or batch), the outage probe,
token maintenance.

A mixin of ``secrets_agent.daemon.agent.Agent``: jobs call the agent's plain fetch/refresh steps and
then ask the scheduler for their own next run. A generation counter makes jobs of an old
schedule (before a reload or stop) end without rescheduling themselves.

While the outage gate (``daemon.outage``) is closed, a due job does not call the backend:
its secrets are held (files kept, the outage as their last error) and the job is not
rescheduled; only the probe job fetches. When the gate opens every job is rescheduled at its
members' catch-up times.
"""

from __future__ import annotations

import functools
import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from secrets_agent.daemon import outage as pacing
from secrets_agent.daemon.syncing import build_groups, due_members, fetch_specs
from secrets_agent.sources.result import BackendUnavailableError

if TYPE_CHECKING:
    from secrets_agent.config.load import SecretSpec
    from secrets_agent.daemon.scheduler import JobScheduler
    from secrets_agent.daemon.state import SecretState
    from secrets_agent.daemon.syncing import Outcome, SyncReport
    from secrets_agent.sources.base import SecretSource

log = logging.getLogger(__name__)

MAINTENANCE_JOB = "source-maintenance"
PROBE_JOB = "outage-probe"
IDLE_MAINTENANCE = 60.0
JOB_ERROR_RETRY = 5.0


class JobsMixin:
    """Scheduling half of the agent (see ``secrets_agent.daemon.agent``)."""

    _scheduler: JobScheduler | None
    _generation: int
    _groups: dict[str, list[str]]
    _specs: dict[str, SecretSpec]
    _states: dict[str, SecretState]
    _stopping: bool
    _active: int
    _idle: threading.Condition
    _lock: threading.RLock
    _clock: Callable[[], float]
    _rng: random.Random
    _gate: pacing.OutageGate
    _resume: dict[str, float]
    _synced: set[str]

    def _get_source(self) -> SecretSource:
        raise NotImplementedError

    def _apply(self, specs: list[SecretSpec], outcomes: dict[str, Outcome]) -> SyncReport:
        raise NotImplementedError

    def _publish(self) -> None:
        raise NotImplementedError

    def _schedule_all(self) -> None:
        """(Re)build job groups and schedule each at its earliest member's next refresh."""
        assert self._scheduler is not None
        self._generation += 1
        generation = self._generation
        self._scheduler.cancel_all()
        batch = int(getattr(self._get_source(), "batch_size", 1) or 1)
        groups = build_groups(self._specs.values(), batch)
        self._groups = {f"refresh-{i}": g for i, g in enumerate(groups)}
        now = self._clock()
        for targets in groups:  # a batch refreshes together: from its earliest member on
            times = [self._states[t].next_refresh_at for t in targets if t in self._states]
            known = [t for t in times if t is not None]
            if len(targets) > 1 and known:
                for t in targets:
                    if self._states[t].next_refresh_at is not None:
                        self._states[t].next_refresh_at = min(known)
        for job_id, targets in self._groups.items():
            self._schedule_group(generation, job_id, targets, now)
        if not self._gate.is_open and self._gate.next_probe_at is not None:
            self._schedule_probe(generation, self._gate.next_probe_at)
        if hasattr(self._get_source(), "maintain"):
            self._scheduler.schedule(
                MAINTENANCE_JOB, functools.partial(self._maintain, generation), now + 1.0
            )

    def _schedule_group(self, generation: int, job_id: str, targets: list[str], now: float) -> None:
        if self._scheduler is None or generation != self._generation or self._stopping:
            return
        times = [self._states[t].next_refresh_at for t in targets if t in self._states]
        run_at = min((t if t is not None else now) for t in times) if times else now
        job = functools.partial(self._run_group, generation, job_id)
        self._scheduler.schedule(job_id, job, run_at)

    @contextmanager
    def _job(self, generation: int) -> Iterator[bool]:
        with self._idle:
            live = generation == self._generation and not self._stopping
            if live:
                self._active += 1
        try:
            yield live
        finally:
            if live:
                with self._idle:
                    self._active -= 1
                    self._idle.notify_all()

    def _quiesce(self, timeout: float) -> None:
        """Cancel pending jobs and wait (up to ``timeout``) for running ones to finish."""
        with self._idle:
            self._generation += 1
            if self._scheduler is not None:
                self._scheduler.cancel_all()
            deadline = time.monotonic() + timeout
            while self._active > 0:
                left = deadline - time.monotonic()
                if left <= 0:
                    log.warning("%d refresh(es) still running at shutdown", self._active)
                    break
                self._idle.wait(left)

    def _run_group(self, generation: int, job_id: str) -> None:
        with self._job(generation) as live:
            if not live:
                return
            targets = self._groups.get(job_id, [])
            now = self._clock()
            try:
                specs = [self._specs[t] for t in targets if t in self._specs]
                due = due_members(specs, self._states, now)
                if due and self._hold(due, now):
                    self._publish()
                    return  # the gate's probe reschedules this job when the backend is back
                if due:
                    outcomes = fetch_specs(self._get_source(), due)
                    self._apply(due, outcomes)
                    held = self._observe(due, outcomes, probe=False)
                    self._publish()
                    if held:
                        return
            except Exception as exc:  # never lose the schedule over a bug or a full disk
                log.error("refresh job %s failed: %s: %s", job_id, type(exc).__name__, exc)
                for t in targets:
                    if t in self._states:
                        self._states[t].next_refresh_at = now + JOB_ERROR_RETRY
            with self._lock:
                self._schedule_group(generation, job_id, targets, self._clock())

    # -- outage gate ------------------------------------------------------------------------

    def _hold(self, due: list[SecretSpec], now: float) -> bool:
        """While the gate is closed: note ``due`` as held (no backend call) and return True."""
        with self._lock:
            gate = self._gate
            if gate.is_open:
                return False
            for spec in due:
                state = self._states[spec.target]
                pacing.hold(gate, spec.target, state.next_refresh_at or now)
                state.last_error = pacing.held_error(gate.error)
                state.consecutive_failures += 1
                state.errors_total += 1
                state.next_refresh_at = gate.next_probe_at
                log.debug(
                    "refresh of %s failed: the backend is down, waiting for the probe: %s",
                    spec.target,
                    gate.error,
                )
        return True

    def _observe(
        self, specs: list[SecretSpec], outcomes: dict[str, Outcome], *, probe: bool
    ) -> bool:
        """Update the gate from a fetch of ``specs``; True if the gate is now closed."""
        down = [o for o, _ in outcomes.values() if isinstance(o, BackendUnavailableError)]
        now = self._clock()
        with self._lock:
            gate = self._gate
            if down:
                hints = [o.retry_after for o in down if o.retry_after]
                was_open = gate.is_open
                probe_at = pacing.backend_down(
                    gate,
                    now,
                    error=str(down[0]),
                    rng=self._rng,
                    target=specs[0].target,
                    retry_after=max(hints) if hints else None,
                    probe=probe,
                )
                for spec in specs:
                    pacing.hold(gate, spec.target, now)
                    self._states[spec.target].next_refresh_at = probe_at
                if was_open:
                    log.warning("backend unavailable: one probe until it answers (%s)", down[0])
                self._schedule_probe(self._generation, probe_at)
                return True
            recovery = pacing.backend_answered(gate, now)
            if recovery is None:
                return False
            fetched = {spec.target for spec in specs}
            for target in list(recovery.held):
                if target in fetched or target not in self._specs:
                    del recovery.held[target]
            plan = pacing.catch_up(
                recovery,
                {t: t in self._synced for t in recovery.held},
                {t: self._specs[t].refresh_interval for t in recovery.held},
                now=now,
                rng=self._rng,
            )
            for target, step in plan.items():
                self._states[target].next_refresh_at = step.fetch_at
                if step.resume_at is not None:
                    self._resume[target] = step.resume_at
            log.info(
                "backend answers again after %.0fs; catching up %d secret(s)",
                recovery.outage,
                len(plan),
            )
            if self._scheduler is not None and not self._stopping:
                for job_id, targets in self._groups.items():
                    self._schedule_group(self._generation, job_id, targets, now)
            return False

    def _schedule_probe(self, generation: int, run_at: float) -> None:
        if self._scheduler is None or generation != self._generation or self._stopping:
            return
        self._scheduler.schedule(PROBE_JOB, functools.partial(self._probe, generation), run_at)

    def _probe(self, generation: int) -> None:
        """The one fetch the agent makes while the backend is down."""
        with self._job(generation) as live:
            if not live:
                return
            with self._lock:
                gate = self._gate
                if gate.is_open:
                    return
                target = gate.probe_target
                spec = self._specs.get(target or "") or next(iter(self._specs.values()), None)
            if spec is None:
                return
            try:
                outcomes = fetch_specs(self._get_source(), [spec])
                self._apply([spec], outcomes)
                self._observe([spec], outcomes, probe=True)
                self._publish()
            except Exception as exc:  # never lose the probe over a bug or a full disk
                log.error("outage probe failed: %s: %s", type(exc).__name__, exc)
                self._schedule_probe(generation, self._clock() + JOB_ERROR_RETRY)

    def _maintain(self, generation: int) -> None:
        with self._job(generation) as live:
            if not live:
                return
            delay: float | None = IDLE_MAINTENANCE
            try:
                delay = self._get_source().maintain()  # type: ignore[attr-defined]
            except Exception as exc:
                log.warning("source maintenance failed: %s", type(exc).__name__)
            with self._lock:
                if self._scheduler is not None and generation == self._generation:
                    when = self._clock() + (delay if delay is not None else IDLE_MAINTENANCE)
                    job = functools.partial(self._maintain, generation)
                    self._scheduler.schedule(MAINTENANCE_JOB, job, when)
