"""JobScheduler: one-shot runs at chosen times, replace-by-id, no overlap, clean shutdown."""

from __future__ import annotations

import threading
import time

from secrets_agent.daemon.scheduler import JobScheduler


def test_runs_jobs_at_their_time_and_reschedules_by_id() -> None:
    scheduler = JobScheduler(max_workers=2)
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
