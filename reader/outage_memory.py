"""``OutageMemory``: a manager remembers that its backend is down, for every key at once.

Without it each uncached key pays the backend's full timeout (and retries) before its fallback,
so a service reading ten secrets at start-up during an outage waits ten times as long as one.
After a backend-wide failure (``SecretBackendUnavailableError``: refused, timeout, 5xx, sealed,
throttled) the memory is *down* for a window: misses skip the backend and go straight to stale
values and the agent's files. When the window has passed, the next miss is let through as the
one *probe* while the others keep skipping; its success ends the outage, its failure opens the
next window, twice as long, up to ``max_window``. Any answer from the backend, even "not found"
or "access denied", counts as up. So an outage costs at most one timeout per window for the
whole process, not one per key.

The check on a miss while the backend is up is one attribute read, no lock.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from .errors import SecretBackendUnavailableError
from .logger import get_logger

#: The first window after a failure, in seconds; each failed probe doubles it.
FIRST_WINDOW_SECONDS = 1.0
#: The longest window: a backend that comes back is noticed within this long.
MAX_WINDOW_SECONDS = 30.0


class OutageMemory:
    """Up/down state of one backend: ``admit`` before a read, ``failed`` / ``answered`` after."""

    def __init__(
        self,
        backend: str,
        *,
        timer: Callable[[], float] = time.monotonic,
        first_window: float = FIRST_WINDOW_SECONDS,
        max_window: float = MAX_WINDOW_SECONDS,
    ) -> None:
        self._backend = backend
        self._timer = timer
        self._first_window = first_window
        self._max_window = max(first_window, max_window)
        self._lock = threading.Lock()
        self._retry_at: float | None = None  # None while the backend is taken to be up
        self._window = 0.0
        self._probing = False
        self._last_error: SecretBackendUnavailableError | None = None

    @property
    def down(self) -> bool:
        """Whether the last read found the backend unavailable."""
        return self._retry_at is not None

    def admit(self, key: str) -> SecretBackendUnavailableError | None:
        """``None`` if the caller may ask the backend for ``key`` (up, or it is the probe).

        Otherwise the error its fallback should report: names the key, the backend, the last
        failure (chained as the cause) and when the backend is asked again.
        """
        if self._retry_at is None:
            return None
        now = self._timer()
        with self._lock:
            retry_at = self._retry_at
            if retry_at is None:
                return None
            if now >= retry_at and not self._probing:
                self._probing = True
                return None
            last = self._last_error
        if now >= retry_at:
            when = "a check is under way"
        else:
            when = f"asked again in {retry_at - now:.1f}s"
        error = SecretBackendUnavailableError(
            f"secret {key!r}: the {self._backend} backend is unavailable ({last}); {when}",
            backend=self._backend,
            key=key,
        )
        error.__cause__ = last
        return error

    def failed(self, error: SecretBackendUnavailableError) -> None:
        """Record a backend-wide failure: open the first window, or double it after a probe."""
        now = self._timer()
        with self._lock:
            if self._retry_at is None:
                self._window = self._first_window
            elif self._probing:
                self._window = min(self._window * 2, self._max_window)
            self._retry_at = now + self._window
            self._probing = False
            self._last_error = error
            window = self._window
        get_logger().info(
            "%s backend unavailable (%s); uncached reads use stale values and agent files "
            "for %.1fs",
            self._backend,
            error,
            window,
        )

    def answered(self) -> None:
        """Record an answer from the backend (a value or an authoritative error): it is up."""
        if self._retry_at is None and not self._probing:
            return
        with self._lock:
            was_down = self._retry_at is not None
            self._retry_at = None
            self._probing = False
            self._window = 0.0
            self._last_error = None
        if was_down:
            get_logger().info("%s backend answers again", self._backend)

    def abandoned(self) -> None:
        """The admitted read ended without an answer or a failure (an unexpected error)."""
        if self._probing:
            with self._lock:
                self._probing = False


__all__ = ["FIRST_WINDOW_SECONDS", "MAX_WINDOW_SECONDS", "OutageMemory"]
