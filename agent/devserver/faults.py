"""Fault injection: queued failures, latency, dropped connections, hangs and denied paths."""

from __future__ import annotations

import threading
from collections import deque

_MESSAGES = {
    400: "invalid request",
    403: "1 error occurred:\n\t* permission denied\n\n",
    404: "",
    412: "required index state not present",
    500: "internal error",
    502: "upstream rate limited",
    503: "Vault is sealed",
}


def failure_message(status: int, path: str) -> str:
    """The error text Vault sends with ``status`` ("" means an empty errors list)."""
    if status == 429:
        return f'request path "{path}": rate limit quota exceeded'
    return _MESSAGES.get(status, "internal error")


class Faults:
    """Thread-safe fault switches consulted by the HTTP layer and the router."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._failures: deque[tuple[int, float | None]] = deque()
        self._drops = 0
        self._denied: list[tuple[str, str | None]] = []
        self.latency = 0.0
        self._running = threading.Event()  # cleared while hanging
        self._running.set()
        self._stopping = threading.Event()

    def fail_next(self, n: int, status: int, retry_after: float | None) -> None:
        if not 400 <= status <= 599:
            raise ValueError("status must be an HTTP error code (400-599)")
        if status == 429 and retry_after is None:
            retry_after = 1
        with self._lock:
            self._failures.extend([(status, retry_after)] * n)

    def take_failure(self) -> tuple[int, float | None] | None:
        """The next queued failure (status, retry_after), or ``None``."""
        if not self._failures:
            return None
        with self._lock:
            return self._failures.popleft() if self._failures else None

    def drop_next(self, n: int) -> None:
        with self._lock:
            self._drops += n

    def take_drop(self) -> bool:
        if not self._drops:
            return False
        with self._lock:
            if self._drops:
                self._drops -= 1
                return True
            return False

    def hang(self, on: bool) -> None:
        if on:
            self._running.clear()
        else:
            self._running.set()

    def wait_while_hung(self) -> bool:
        """Block while hanging; False if the server is stopping (close without answering)."""
        while not self._running.wait(0.1):
            if self._stopping.is_set():
                return False
        return not self._stopping.is_set()

    def deny(self, prefix: str, token: str | None) -> None:
        with self._lock:
            self._denied.append((prefix.lstrip("/").rstrip("*"), token))

    def is_denied(self, path: str, token: str | None) -> bool:
        if not self._denied:
            return False
        with self._lock:
            return any(
                path.startswith(prefix) and (who is None or who == token)
                for prefix, who in self._denied
            )

    def clear(self) -> None:
        """Remove every fault (failures, drops, denials, latency, hang)."""
        with self._lock:
            self._failures.clear()
            self._drops = 0
            self._denied.clear()
            self.latency = 0.0
        self._running.set()

    def stopping(self) -> None:
        """Release hung requests so that the server can stop."""
        self._stopping.set()
        self._running.set()

    def restarting(self) -> None:
        self._stopping.clear()
