"""JobScheduler: one-shot runs at chosen times, replace-by-id, interval jobs, workers, no run
lost to max_instances, clean shutdown."""

from __future__ import annotations

import threading
import time

from secrets_agent.daemon.scheduler import JobScheduler


def test_runs_jobs_at_their_time_and_reschedules_by_id() -> None:
    scheduler = JobScheduler(workers=2)
    ran: list[tuple[str, float]] = []
    done = threading.Event()

    def job(name: str) -> None:
        ran.append((name, time.time()))
        if len(ran) == 2:
            done.set()

    start = time.time()
    scheduler.schedule("a", lambda: job("a"), start + 0.2)
    scheduler.schedule("b", lambda: job("b-old"), start + 0.1)
    scheduler.schedule("b", lambda: job("b"), start + 0.3)  # replaces the pending run
    assert set(scheduler.pending()) == {"a", "b"}
    scheduler.start()
    assert done.wait(5)
    scheduler.shutdown()
    assert [name for name, _ in ran] == ["a", "b"]
    assert ran[0][1] >= start + 0.19
    assert not scheduler.running


def test_a_late_run_is_not_dropped() -> None:
    scheduler = JobScheduler()
    done = threading.Event()
    scheduler.schedule("late", done.set, time.time() - 3600)  # long past: still runs
    scheduler.start()
    try:
        assert done.wait(5)
    finally:
        scheduler.shutdown()


def test_cancel_and_shutdown_wait_for_running_job() -> None:
    scheduler = JobScheduler()
    started = threading.Event()
    finished = threading.Event()

    def slow() -> None:
        started.set()
        time.sleep(0.3)
        finished.set()

    scheduler.schedule("slow", slow, time.time())
    scheduler.schedule("never", lambda: None, time.time() + 60)
    scheduler.cancel("never")
    scheduler.cancel("absent")  # no error
    assert "never" not in scheduler.pending()
    scheduler.start()
    assert started.wait(5)
    scheduler.shutdown(wait=True)
    assert finished.is_set()


def test_interval_jobs_and_workers() -> None:
    scheduler = JobScheduler(workers=2)
    ticks: list[float] = []
    worked = threading.Event()
    scheduler.every("tick", lambda: ticks.append(time.time()), 0.1)
    scheduler.start()
    try:
        scheduler.submit(worked.set)
        assert worked.wait(5)
        deadline = time.monotonic() + 5
        while len(ticks) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(ticks) >= 3
    finally:
        scheduler.shutdown()
    import pytest

    with pytest.raises(RuntimeError):
        scheduler.submit(lambda: None)  # no work after shutdown


def test_a_run_skipped_at_max_instances_is_run_again() -> None:
    """APScheduler drops a one-shot run whose job is still running; the adapter puts it back."""
    scheduler = JobScheduler()
    release = threading.Event()
    runs: list[str] = []
    second = threading.Event()

    def job() -> None:
        runs.append("run")
        if len(runs) == 1:
            # Still running when its next run (scheduled from inside) comes due.
            scheduler.schedule("job", job, time.time())
            release.wait(5)
        else:
            second.set()

    scheduler.schedule("job", job, time.time())
    scheduler.start()
    try:
        time.sleep(0.5)  # the inner run came due (and was skipped) meanwhile
        release.set()
        assert second.wait(5), "the skipped run was lost"
    finally:
        scheduler.shutdown()
