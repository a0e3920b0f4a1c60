"""``SingleFlight``: one backend read per key at a time, however many callers miss it.

The first caller that misses a key *leads*: it opens a ``Call`` and runs the read; callers that
miss the same key while the call is open *follow*: they wait, for at most a bound, for the
leader's value or error. Keys never wait for each other: the table's lock is held only to look
a call up, never during a read.

The leader publishes the outcome after it has stored the value in the cache and after the call
has left the table: a caller arriving later finds the value in the cache, or no open call and a
fresh cache to check (see ``SecretManager._load``). A follower that gives up (a timed-out wait,
a cancelled ``asyncio`` task) leaves the call to the others. ``concurrent.futures`` would do,
but importing it loads ``logging``, which this package keeps off its import path.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable

from .errors import SecretBackendUnavailableError


class Call:
    """One open read: its outcome, once published, for every caller waiting on it."""

    __slots__ = ("_callbacks", "_done", "_error", "_lock", "_value")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._value = ""
        self._error: Exception | None = None
        self._callbacks: list[Callable[[Call], object]] = []

    def result(self, timeout: float | None = None) -> str:
        """The leader's value, or raise its error; ``TimeoutError`` after ``timeout`` seconds."""
        if not self._done.wait(timeout):
            raise TimeoutError
        if self._error is not None:
            raise self._error
        return self._value

    def outcome(self) -> tuple[str, Exception | None]:
        """``(value, error)`` of a published call."""
        return self._value, self._error

    def add_done_callback(self, callback: Callable[[Call], object]) -> None:
        """Call ``callback(call)`` once the outcome is published (at once if it is)."""
        with self._lock:
            if not self._done.is_set():
                self._callbacks.append(callback)
                return
        callback(self)

    def publish(self, value: str, error: Exception | None) -> None:
        """Set the outcome, wake every waiter and run the callbacks (their errors ignored)."""
        with self._lock:
            self._value, self._error = value, error
            self._done.set()
            callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            with contextlib.suppress(Exception):  # e.g. a waiter's event loop is closed
                callback(self)


class SingleFlight:
    """The open calls of one manager, by key: ``join``, then ``run`` by the leader."""

    __slots__ = ("_calls", "_lock")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: dict[str, Call] = {}

    def join(self, key: str) -> tuple[Call, bool]:
        """The open call for ``key`` and whether the caller leads it (it was just opened)."""
        with self._lock:
            call = self._calls.get(key)
            if call is not None:
                return call, False
            call = self._calls[key] = Call()
            return call, True

    def run(self, key: str, call: Call, read: Callable[[], str]) -> str:
        """Lead ``call``: return ``read()`` and hand its value or error to every follower."""
        try:
            value = read()
        except Exception as exc:
            self.finish(key, call, "", exc)
            raise
        except BaseException:
            interrupted = SecretBackendUnavailableError(
                f"secret {key!r}: the read was interrupted", key=key
            )
            self.finish(key, call, "", interrupted)
            raise
        self.finish(key, call, value, None)
        return value

    def finish(self, key: str, call: Call, value: str, error: Exception | None) -> None:
        """Close ``call``: out of the table first, then its outcome to every waiter."""
        with self._lock:
            if self._calls.get(key) is call:
                del self._calls[key]
        call.publish(value, error)

    def __len__(self) -> int:
        """Number of open calls."""
        return len(self._calls)


__all__ = ["Call", "SingleFlight"]
