"""BackgroundWorkers: queued jobs on a few daemon threads, started on demand, stopped by close."""

from __future__ import annotations

import logging
import threading
import time

import pytest
from libs.secrets.background import BackgroundWorkers


def test_jobs_run_on_at_most_the_given_number_of_daemon_threads() -> None:
    workers = BackgroundWorkers("test workers", workers=2)
    release = threading.Event()
    done: list[str] = []
    names: set[str] = set()

    def job(key: str) -> None:
        names.add(threading.current_thread().name)
        release.wait(5)
        done.append(key)

    for i in range(20):
        assert workers.submit(job, f"k{i}")
    time.sleep(0.1)
    assert workers.threads == 2
    release.set()
    deadline = time.monotonic() + 5
    while len(done) < 20 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sorted(done) == sorted(f"k{i}" for i in range(20))
    assert names == {"test workers 1", "test workers 2"}
    workers.close()


def test_an_idle_worker_takes_new_work_instead_of_a_new_thread() -> None:
    workers = BackgroundWorkers("idle workers", workers=4)
    done = threading.Event()
    workers.submit(lambda _key: None, "first")
    time.sleep(0.1)
    workers.submit(lambda _key: done.set(), "second")
    assert done.wait(5)
    assert workers.threads == 1
    workers.close()


def test_a_failing_job_is_logged_and_the_worker_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    workers = BackgroundWorkers("failing workers", workers=1)
    done = threading.Event()

    def broken(key: str) -> None:
        raise RuntimeError("bug")

    with caplog.at_level(logging.ERROR, logger="libs.secrets"):
        workers.submit(broken, "db/password")
        workers.submit(lambda _key: done.set(), "next")
        assert done.wait(5)
    assert "db/password" in caplog.text and "RuntimeError" in caplog.text
    workers.close()


def test_close_drops_queued_work_and_stops_the_threads() -> None:
    workers = BackgroundWorkers("closing workers", workers=1)
    release = threading.Event()
    ran: list[str] = []

    def job(key: str) -> None:
        release.wait(5)
        ran.append(key)

    workers.submit(job, "running")
    workers.submit(job, "queued")
    time.sleep(0.05)
    workers.close(timeout=0)  # "queued" has not started: it is dropped
    release.set()
    for thread in workers._threads:
        thread.join(5)
    assert ran == ["running"]
    assert workers.submit(job, "late") is False
    assert not any(t.name.startswith("closing workers") for t in threading.enumerate())


def test_at_least_one_worker() -> None:
    with pytest.raises(ValueError, match="workers"):
        BackgroundWorkers("none", workers=0)
