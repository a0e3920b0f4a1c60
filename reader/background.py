"""``BackgroundWorkers``: a few daemon threads that run a manager's refreshes ahead of expiry.

Work is queued, never given a thread of its own: at most ``workers`` daemon threads are started,
one more only when work arrives and none is idle, and they stay for the life of the manager.
Daemon threads never hold up the interpreter's exit, even while a backend hangs. A job that
raises is logged with its traceback and the worker carries on.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

from .logger import get_logger

_Job = tuple[Callable[[str], object], str]


class BackgroundWorkers:
    """Runs ``job(key)`` calls on up to ``workers`` daemon threads; ``submit`` / ``close``."""

    def __init__(self, name: str, *, workers: int = 2) -> None:
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers!r}")
        self._name = name
        self._workers = workers
        self._jobs: deque[_Job] = deque()
        self._ready = threading.Condition(threading.Lock())
        self._threads: list[threading.Thread] = []
        self._idle = 0
        self._closed = False

    def submit(self, job: Callable[[str], object], key: str) -> bool:
        """Queue ``job(key)``; False (and nothing queued) once closed."""
        with self._ready:
            if self._closed:
                return False
            self._jobs.append((job, key))
            if self._idle:
                self._ready.notify()
            elif len(self._threads) < self._workers:
                thread = threading.Thread(
                    target=self._work, name=f"{self._name} {len(self._threads) + 1}", daemon=True
                )
                self._threads.append(thread)
                thread.start()
        return True

    def _work(self) -> None:
        while True:
            with self._ready:
                while not self._jobs and not self._closed:
                    self._idle += 1
                    self._ready.wait()
                    self._idle -= 1
                if not self._jobs:
                    return  # closed and drained
                job, key = self._jobs.popleft()
            try:
                job(key)
            except Exception:
                get_logger().exception("background refresh of secret %r failed", key)

    @property
    def threads(self) -> int:
        """Number of worker threads started so far."""
        return len(self._threads)

    @property
    def pending(self) -> int:
        """Number of jobs queued and not yet started."""
        return len(self._jobs)

    def close(self, timeout: float = 1.0) -> None:
        """Drop queued jobs, stop the workers, and wait up to ``timeout`` in all for them."""
        with self._ready:
            if self._closed:
                return
            self._closed = True
            self._jobs.clear()
            self._ready.notify_all()
            threads = list(self._threads)
        deadline = time.monotonic() + timeout
        for thread in threads:
            if thread is not threading.current_thread():
                thread.join(max(0.0, deadline - time.monotonic()))


__all__ = ["BackgroundWorkers"]
