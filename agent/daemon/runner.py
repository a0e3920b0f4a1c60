"""The job runner: turns the table's due secrets into fetch calls on the scheduler's workers.

The runner keeps ONE one-shot timer, ``wake``, armed at the table's earliest due time (a
secret, the outage probe or the source's maintenance), and one interval job, ``heartbeat``, every
``HEARTBEAT`` seconds. ``wake`` takes everything due within the table's coalescing window
(``table.coalesce_window``), splits it into fetch calls (``batch_size`` paths each; when the
source reads one path a call, into units of at least ``UNIT_MIN`` secrets, as many units as
there are workers at most), hands them to the workers and re-arms itself. A few dozen secrets
due together go to one or two workers, not eight: workers that would contend for the writer's
and the table's locks cost more CPU than the reads (a slow backend still gets parallel reads,
since every wake-up hands its unit to a free worker while earlier ones are still reading).
A worker that finishes a call re-arms the timer only if it made something due earlier than the
timer (a backoff): finishing a refresh costs O(1) here, whatever the number of secrets.

A unit of one-path calls is read one after another and recorded together
(``BatchRefresher.run_each``); it stops at the first backend-wide failure (its remaining secrets
go back to the table, which holds them for the outage probe), so a hanging backend costs one
timeout per worker, not one per secret of a unit.

Liveness: the heartbeat runs ``wake`` too, so even a timer run that the scheduler dropped costs
at most one heartbeat of delay; a fetch call that raises gives its secrets (and the probe) back
to the table for a retry; ``pause``/``resume`` (reload, stop) re-queue whatever was in flight.
The heartbeat also flushes the publisher (``daemon.publish``), about once a second.
"""

from __future__ import annotations

import logging
import math
import random
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from secrets_agent.daemon.batch import BatchRefresher
from secrets_agent.daemon.publish import Publisher
from secrets_agent.daemon.scheduler import Scheduler
from secrets_agent.daemon.table import SecretTable

if TYPE_CHECKING:
    from secrets_agent.config.load import SecretSpec

__all__ = ["HEARTBEAT", "Runner"]

log = logging.getLogger(__name__)

WAKE_JOB = "wake"
HEARTBEAT_JOB = "heartbeat"
HEARTBEAT = 1.0
UNIT_MIN = 32  # secrets read one after another by one worker before a second one is used
IDLE_MAINTENANCE = 60.0  # when the source has nothing to maintain, ask again after this
MIN_MAINTENANCE = 1.0


class Runner:
    """Background refreshing for one agent (see the module docstring)."""

    def __init__(
        self,
        table: SecretTable,
        refresher: BatchRefresher,
        publisher: Publisher,
        scheduler: Scheduler,
        *,
        batch_size: Callable[[], int],
        workers: int,
        maintain: Callable[[], float | None],
        clock: Callable[[], float],
        rng: random.Random,
    ) -> None:
        self._table = table
        self._refresher = refresher
        self._publisher = publisher
        self._scheduler = scheduler
        self._batch_size = batch_size
        self._workers = max(1, workers)
        self._maintain = maintain
        self._clock = clock
        self._rng = rng
        self._wake_lock = threading.Lock()
        self._arm_lock = threading.Lock()
        self._armed_at: float | None = None
        self._maintain_at: float | None = None
        self._maintaining = False
        self._paused = True
        self._active = 0
        self._idle = threading.Condition()

    @property
    def scheduler(self) -> Scheduler:
        return self._scheduler

    def start(self) -> None:
        """Queue every secret and start the timers."""
        self._maintain_at = self._clock() + MIN_MAINTENANCE
        self.resume()
        self._scheduler.every(HEARTBEAT_JOB, self._heartbeat, HEARTBEAT)
        self._scheduler.start()

    def pause(self, timeout: float) -> None:
        """Stop handing out work and wait (up to ``timeout`` s) for calls in flight."""
        with self._wake_lock:
            self._paused = True
        with self._idle:
            deadline = time.monotonic() + timeout
            while self._active > 0:
                left = deadline - time.monotonic()
                if left <= 0:
                    log.warning("%d refresh call(s) still running", self._active)
                    break
                self._idle.wait(left)

    def resume(self) -> None:
        """Queue every secret at its next refresh time again and re-arm the timer."""
        with self._wake_lock:
            self._table.rebuild(self._clock())
            self._paused = False
            with self._arm_lock:
                self._armed_at = None
        self._arm()

    def stop(self, timeout: float) -> None:
        """Pause, then shut the scheduler down (work not started yet is dropped)."""
        self.pause(timeout)
        self._scheduler.shutdown(wait=False)

    # -- timers --------------------------------------------------------------------------

    def _heartbeat(self) -> None:
        self._wake()
        self._publisher.flush()

    def _wake(self) -> None:
        with self._arm_lock:
            self._armed_at = None
        with self._wake_lock:
            if self._paused:
                return
            now = self._clock()
            size = max(1, self._batch_size())
            ahead = self._table.coalesce()
            due = self._table.take_due(now + ahead, self._rng, fill_to=size)
            probe = self._table.take_probe(now)
            maintain = (
                not self._maintaining
                and self._maintain_at is not None
                and self._maintain_at <= now + ahead
            )
            if maintain:
                self._maintaining = True
        for unit in self._split(due, size):
            self._submit(unit, one_by_one=size == 1)
        if probe is not None:
            self._submit([probe], probe=True)
        if maintain:
            self._submit_maintenance()
        self._arm()

    def _arm(self) -> None:
        """Point the wake timer at the earliest due time (if it is not there already)."""
        at = self._table.wake_at()
        if self._maintain_at is not None and not self._maintaining:
            at = self._maintain_at if at is None else min(at, self._maintain_at)
        with self._arm_lock:
            if self._paused or at is None:
                return
            if self._armed_at is not None and self._armed_at <= at:
                return
            self._armed_at = at
            self._scheduler.schedule(WAKE_JOB, self._wake, at)

    # -- work ----------------------------------------------------------------------------

    def _split(self, due: Sequence[SecretSpec], size: int) -> list[list[SecretSpec]]:
        """Group due secrets into units of work: one fetch call of ``size`` paths each, or
        (``size`` 1) at least ``UNIT_MIN`` secrets read one after another, one unit a worker."""
        if not due:
            return []
        if size == 1:
            units = min(self._workers, math.ceil(len(due) / UNIT_MIN))
            size = math.ceil(len(due) / units)
        return [list(due[i : i + size]) for i in range(0, len(due), size)]

    def _submit(
        self, specs: list[SecretSpec], *, probe: bool = False, one_by_one: bool = False
    ) -> None:
        with self._idle:
            self._active += 1
        try:
            self._scheduler.submit(lambda: self._run_unit(specs, probe, one_by_one))
        except RuntimeError:  # shut down: the next start or resume re-queues them
            self._done()

    def _run_unit(self, specs: list[SecretSpec], probe: bool, one_by_one: bool) -> None:
        try:
            if one_by_one:
                self._run_each(specs)
            else:
                self._run_call(specs, probe=probe)
        finally:
            self._done()
        if self._publisher.ready_due():
            self._publisher.flush(force=True)
        self._arm()

    def _run_call(self, specs: list[SecretSpec], *, probe: bool) -> None:
        try:
            self._refresher.run(specs, probe=probe)
        except Exception as exc:  # never lose the schedule over a bug or a full disk
            self._failed(specs, exc, probe=probe)

    def _run_each(self, specs: list[SecretSpec]) -> None:
        """One path a call, read one after another (``BatchRefresher.run_each``); what was
        not read because the backend went down goes back to the table, which holds it."""
        try:
            _, rest = self._refresher.run_each(specs)
        except Exception as exc:
            self._failed(specs, exc, probe=False)
        else:
            if rest:
                self._table.give_back(rest)

    def _failed(self, specs: list[SecretSpec], exc: Exception, *, probe: bool) -> None:
        log.error("refresh of %d secret(s) failed: %s: %s", len(specs), type(exc).__name__, exc)
        self._table.abandon(specs, probe=probe, now=self._clock(), rng=self._rng)

    def _submit_maintenance(self) -> None:
        def run() -> None:
            delay: float | None = None
            try:
                delay = self._maintain()
            except Exception as exc:
                log.warning("source maintenance failed: %s", type(exc).__name__)
            finally:
                wait = IDLE_MAINTENANCE if delay is None else max(MIN_MAINTENANCE, delay)
                with self._wake_lock:
                    self._maintain_at = self._clock() + wait
                    self._maintaining = False
                self._done()
            self._arm()

        with self._idle:
            self._active += 1
        try:
            self._scheduler.submit(run)
        except RuntimeError:
            self._maintaining = False
            self._done()

    def _done(self) -> None:
        with self._idle:
            self._active -= 1
            self._idle.notify_all()
