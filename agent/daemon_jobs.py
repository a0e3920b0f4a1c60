"""Background jobs of the agent: one refresh job per secret (or batch), token maintenance.

A mixin of ``secrets_agent.daemon.Agent``: jobs call the agent's plain fetch/refresh steps and
then ask the scheduler for their own next run. A generation counter makes jobs of an old
schedule (before a reload or stop) end without rescheduling themselves.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from secrets_agent.syncing import build_groups, due_members, fetch_specs

if TYPE_CHECKING:
    from secrets_agent.config import SecretSpec
    from secrets_agent.model import SecretState
    from secrets_agent.scheduler import JobScheduler
    from secrets_agent.sources.base import SecretSource
    from secrets_agent.syncing import Outcome, SyncReport

log = logging.getLogger(__name__)

MAINTENANCE_JOB = "source-maintenance"
IDLE_MAINTENANCE = 60.0
JOB_ERROR_RETRY = 5.0


class JobsMixin:
    """Scheduling half of the agent (see ``secrets_agent.daemon``)."""

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
        for job_id, targets in self._groups.items():
            self._schedule_group(generation, job_id, targets, now)
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
                if due:
                    self._apply(due, fetch_specs(self._get_source(), due))
                    self._publish()
            except Exception as exc:  # never lose the schedule over a bug or a full disk
                log.error("refresh job %s failed: %s: %s", job_id, type(exc).__name__, exc)
                for t in targets:
                    if t in self._states:
                        self._states[t].next_refresh_at = now + JOB_ERROR_RETRY
            with self._lock:
                self._schedule_group(generation, job_id, targets, self._clock())

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
