"""What the job runner needs from a scheduler, and the production one: APScheduler 3.x.

``Scheduler`` is small on purpose: one-shot jobs at wall-clock times (replaced by id), interval
jobs, and a pool of worker threads for the work the jobs hand out. ``JobScheduler`` implements it
with an APScheduler ``BackgroundScheduler`` for the timers and a ``ThreadPoolExecutor`` for the
work; ``daemon.manual.ManualScheduler`` implements it on a fake clock for tests.

Every job either runs or is scheduled again. APScheduler skips a run when the job is still
running (``max_instances``) or, with a grace time, when it is late; a skipped one-shot job has no
next run and would be gone for good. So late runs are never dropped (``misfire_grace_time=None``),
late runs of an interval job collapse into one (``coalesce``), and a one-shot run that is skipped
anyway is put back a moment later (``_on_skipped``). The runner does not rely on even that: its
interval heartbeat re-arms everything (``daemon.runner``).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

__all__ = ["JobScheduler", "Scheduler"]

log = logging.getLogger(__name__)

SKIPPED_RETRY = 0.05  # seconds until a skipped one-shot run is tried again


class Scheduler(Protocol):
    """Timers and worker threads for the job runner (see the module docstring)."""

    @property
    def running(self) -> bool: ...

    def schedule(self, job_id: str, func: Callable[[], object], run_at: float) -> None:
        """Run ``func`` once at ``run_at`` (Unix time), replacing a pending run of ``job_id``."""

    def every(self, job_id: str, func: Callable[[], object], seconds: float) -> None:
        """Run ``func`` every ``seconds`` from now on."""

    def submit(self, func: Callable[[], object]) -> None:
        """Run ``func`` on a worker thread soon. Raises ``RuntimeError`` after ``shutdown``."""

    def cancel_all(self) -> None:
        """Drop every pending run (runs in progress are not interrupted)."""

    def start(self) -> None: ...

    def shutdown(self, *, wait: bool = True) -> None:
        """Stop the timers and the workers; with ``wait``, until running work has finished."""


def _apscheduler() -> tuple[Any, Any, Any, Any]:
    try:
        from apscheduler.executors.pool import ThreadPoolExecutor as ApsPool
        from apscheduler.schedulers.background import BackgroundScheduler
        from apscheduler.triggers.date import DateTrigger
        from apscheduler.triggers.interval import IntervalTrigger
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise RuntimeError(
            "the agent needs APScheduler 3.x: pip install 'tmpfs-secrets[agent]'"
        ) from exc
    return BackgroundScheduler, ApsPool, DateTrigger, IntervalTrigger


def _tolerant(scheduler_cls: Any) -> Any:
    """A scheduler class whose ``remove_job`` ignores a job that is already gone.

    APScheduler's own loop removes a fired one-shot job after submitting it; if ``shutdown`` (or
    a cancel) got there first, the lookup error would kill the scheduler thread.
    """
    from apscheduler.jobstores.base import JobLookupError

    class TolerantScheduler(scheduler_cls):  # type: ignore[misc]
        def remove_job(self, job_id: str, jobstore: str | None = None) -> None:
            try:
                super().remove_job(job_id, jobstore)
            except JobLookupError:
                log.debug("job %s already removed", job_id)

    return TolerantScheduler


class JobScheduler:
    """APScheduler timers (on a thread or two of their own) plus a pool of ``workers``."""

    def __init__(self, *, workers: int = 4, timer_threads: int = 2) -> None:
        scheduler_cls, pool_cls, self._date, self._interval = _apscheduler()
        from apscheduler.events import EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED

        self._scheduler = _tolerant(scheduler_cls)(
            executors={"default": pool_cls(max_workers=max(1, timer_threads))},
            job_defaults={"max_instances": 1, "coalesce": True, "misfire_grace_time": None},
            timezone=dt.UTC,
        )
        self._scheduler.add_listener(self._on_skipped, EVENT_JOB_MAX_INSTANCES | EVENT_JOB_MISSED)
        self._workers = ThreadPoolExecutor(
            max_workers=max(1, workers), thread_name_prefix="refresh"
        )
        self._one_shot: dict[str, tuple[Callable[[], object], float]] = {}
        self._lock = threading.Lock()
        self._started = False

    @property
    def running(self) -> bool:
        """True between ``start`` and ``shutdown``."""
        return bool(self._scheduler.running)

    def start(self) -> None:
        """Start the timer thread (jobs scheduled before this run once it starts)."""
        if not self._started:
            self._scheduler.start()
            self._started = True

    def schedule(self, job_id: str, func: Callable[[], object], run_at: float) -> None:
        when = dt.datetime.fromtimestamp(run_at, tz=dt.UTC)
        with self._lock:
            self._one_shot[job_id] = (func, run_at)
        self._scheduler.add_job(
            func,
            trigger=self._date(run_date=when, timezone=dt.UTC),
            id=job_id,
            name=job_id,
            replace_existing=True,
        )

    def every(self, job_id: str, func: Callable[[], object], seconds: float) -> None:
        self._scheduler.add_job(
            func,
            trigger=self._interval(seconds=seconds, timezone=dt.UTC),
            id=job_id,
            name=job_id,
            replace_existing=True,
        )

    def submit(self, func: Callable[[], object]) -> None:
        self._workers.submit(func)

    def cancel(self, job_id: str) -> None:
        """Drop the pending run of ``job_id`` (a run in progress is not interrupted)."""
        with self._lock:
            self._one_shot.pop(job_id, None)
        try:
            self._scheduler.remove_job(job_id)
        except Exception:  # JobLookupError: nothing pending
            log.debug("no pending job %s", job_id)

    def cancel_all(self) -> None:
        with self._lock:
            self._one_shot.clear()
        self._scheduler.remove_all_jobs()

    def pending(self) -> dict[str, float]:
        """Job id -> run time (Unix time) of every pending one-shot job."""
        with self._lock:
            one_shot = {job_id: at for job_id, (_, at) in self._one_shot.items()}
        return {
            job_id: at
            for job_id, at in one_shot.items()
            if self._scheduler.get_job(job_id) is not None
        }

    def shutdown(self, *, wait: bool = True) -> None:
        if self._started and self._scheduler.running:
            self._scheduler.shutdown(wait=wait)
        self._workers.shutdown(wait=wait, cancel_futures=not wait)

    def _on_skipped(self, event: Any) -> None:
        """APScheduler skipped a run: put a one-shot job back (an interval job runs again on
        its own at its next time)."""
        with self._lock:
            entry = self._one_shot.get(event.job_id)
        if entry is None or self._scheduler.get_job(event.job_id) is not None:
            return
        func = entry[0]
        log.warning("job %s was skipped by the scheduler; running it again shortly", event.job_id)
        self.schedule(event.job_id, func, time.time() + SKIPPED_RETRY)
