"""A ``Scheduler`` on a fake clock, for tests: nothing runs until the test moves time on.

    scheduler = ManualScheduler(start=1000.0)
    agent = Agent(config, source=source, clock=scheduler.clock, scheduler=scheduler)
    agent.start()
    scheduler.advance(60)          # runs every job due within the next minute, in time order

Work handed to ``submit`` runs at once on the calling thread. ``skip`` drops the next run of a
job the way APScheduler drops a run it cannot start, so tests can prove the runner survives it.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable

__all__ = ["ManualScheduler"]


class ManualScheduler:
    """Implements ``daemon.scheduler.Scheduler``; time moves only through ``advance``."""

    def __init__(self, *, start: float = 1_000_000.0) -> None:
        self.now = start
        self.started = False
        self.stopped = False
        self.runs = 0
        self._jobs: dict[str, tuple[float, int, Callable[[], object], float | None]] = {}
        self._seq = itertools.count()
        self._skip: set[str] = set()

    def clock(self) -> float:
        """The fake time (pass as the agent's ``clock``)."""
        return self.now

    @property
    def running(self) -> bool:
        return self.started and not self.stopped

    def schedule(self, job_id: str, func: Callable[[], object], run_at: float) -> None:
        self._jobs[job_id] = (run_at, next(self._seq), func, None)

    def every(self, job_id: str, func: Callable[[], object], seconds: float) -> None:
        self._jobs[job_id] = (self.now + seconds, next(self._seq), func, seconds)

    def submit(self, func: Callable[[], object]) -> None:
        if self.stopped:
            raise RuntimeError("scheduler is shut down")
        func()

    def cancel_all(self) -> None:
        self._jobs.clear()

    def start(self) -> None:
        self.started = True

    def shutdown(self, *, wait: bool = True) -> None:
        self.stopped = True
        self._jobs.clear()

    def pending(self) -> dict[str, float]:
        """Job id -> next run time."""
        return {job_id: job[0] for job_id, job in self._jobs.items()}

    def skip(self, job_id: str) -> None:
        """Drop the next run of ``job_id`` without running it (a one-shot job is then gone;
        an interval job runs again at its next time)."""
        self._skip.add(job_id)

    def advance(self, seconds: float) -> None:
        """Move time ``seconds`` on, running each job when its time comes, in time order."""
        self.run_until(self.now + seconds)

    def run_until(self, until: float) -> None:
        while self.running:
            due = [(at, seq, job_id) for job_id, (at, seq, _, _) in self._jobs.items()]
            due = [d for d in due if d[0] <= until]
            if not due:
                break
            at, _, job_id = heapq.nsmallest(1, due)[0]
            self.now = max(self.now, at)
            _, _, func, every = self._jobs.pop(job_id)
            if every is not None:
                self._jobs[job_id] = (self.now + every, next(self._seq), func, every)
            if job_id in self._skip:
                self._skip.discard(job_id)
                continue
            self.runs += 1
            func()
        self.now = max(self.now, until)
