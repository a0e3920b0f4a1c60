"""The agent's job scheduler: an APScheduler 3.x BackgroundScheduler running plain functions.

Each job runs once at a time chosen by the agent (jitter and backoff are computed by
``daemon.backoff``, not by a trigger): after a run, the job function asks for its next run
with ``schedule`` again. Jobs never overlap (``max_instances=1``), late runs collapse into one
(``coalesce``), and a late run is never dropped (``misfire_grace_time=None``): with one-shot date
triggers, a dropped run would never be rescheduled, so after a suspend the refresh just runs late.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

log = logging.getLogger(__name__)


def _apscheduler() -> tuple[type, type, type]:
    try:
        from apscheduler.executors.pool import ThreadPoolExecutor
        from apscheduler.schedulers.background import BackgroundScheduler
        from apscheduler.triggers.date import DateTrigger
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise RuntimeError(
            "the agent needs APScheduler 3.x: pip install 'tmpfs-secrets[agent]'"
        ) from exc
    return BackgroundScheduler, ThreadPoolExecutor, DateTrigger


def _tolerant(scheduler_cls: type) -> type:
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
    """Runs named one-shot jobs at wall-clock times on a small thread pool."""

    def __init__(self, *, max_workers: int = 4) -> None:
        scheduler_cls, executor_cls, self._trigger_cls = _apscheduler()
        self._scheduler = _tolerant(scheduler_cls)(
            executors={"default": executor_cls(max_workers=max(1, max_workers))},
            job_defaults={"max_instances": 1, "coalesce": True, "misfire_grace_time": None},
            timezone=dt.UTC,
        )
        self._started = False

    @property
    def running(self) -> bool:
        """True between ``start`` and ``shutdown``."""
        return bool(self._scheduler.running)

    def start(self) -> None:
        """Start the scheduler thread (jobs scheduled before this run once it starts)."""
        if not self._started:
            self._scheduler.start()
            self._started = True

    def schedule(self, job_id: str, func: Callable[[], object], run_at: float) -> None:
        """Run ``func`` once at ``run_at`` (Unix time), replacing any pending run of ``job_id``."""
        when = dt.datetime.fromtimestamp(run_at, tz=dt.UTC)
        self._scheduler.add_job(
            func,
            trigger=self._trigger_cls(run_date=when, timezone=dt.UTC),
            id=job_id,
            name=job_id,
            replace_existing=True,
        )

    def cancel(self, job_id: str) -> None:
        """Drop the pending run of ``job_id`` (a run in progress is not interrupted)."""
        try:
            self._scheduler.remove_job(job_id)
        except Exception:  # JobLookupError: nothing pending
            log.debug("no pending job %s", job_id)

    def cancel_all(self) -> None:
        """Drop every pending run."""
        self._scheduler.remove_all_jobs()

    def pending(self) -> dict[str, float]:
        """Job id -> next run time (Unix time) of every pending job."""
        result: dict[str, float] = {}
        for job in self._scheduler.get_jobs():
            # Jobs added before start() have no next_run_time yet; their trigger knows it.
            when = getattr(job, "next_run_time", None) or getattr(job.trigger, "run_date", None)
            if when is not None:
                result[job.id] = when.timestamp()
        return result

    def shutdown(self, *, wait: bool = True) -> None:
        """Stop the scheduler; with ``wait``, block until running jobs have finished."""
        if self._started and self._scheduler.running:
            self._scheduler.shutdown(wait=wait)
