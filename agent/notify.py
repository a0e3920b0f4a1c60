"""The systemd notification protocol (sd_notify) without a dependency.

Messages go as one AF_UNIX datagram to ``$NOTIFY_SOCKET`` (a leading ``@`` names an abstract
socket). Without ``NOTIFY_SOCKET`` every call is a silent no-op, so the agent behaves the same
inside and outside systemd.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Mapping

log = logging.getLogger(__name__)

SEND_TIMEOUT = 0.5


def _socket_address(value: str) -> str | bytes | None:
    if not value:
        return None
    if value.startswith("@"):
        return b"\0" + value[1:].encode()
    if value.startswith("/"):
        return value
    return None  # systemd also knows vsock addresses; the agent never runs under those


def _one_line(text: str) -> str:
    return " ".join(text.split())


class Notifier:
    """Sends sd_notify messages; every method is safe to call when not under systemd."""

    def __init__(
        self,
        socket_path: str | None,
        *,
        watchdog_usec: int | None = None,
        watchdog_pid: int | None = None,
    ) -> None:
        self._address = _socket_address(socket_path or "")
        self._watchdog_usec = watchdog_usec
        self._watchdog_pid = watchdog_pid
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> Notifier:
        """Build a notifier from ``NOTIFY_SOCKET``, ``WATCHDOG_USEC`` and ``WATCHDOG_PID``."""
        env = os.environ if environ is None else environ
        usec: int | None = None
        pid: int | None = None
        try:
            usec = int(env["WATCHDOG_USEC"]) if env.get("WATCHDOG_USEC") else None
            pid = int(env["WATCHDOG_PID"]) if env.get("WATCHDOG_PID") else None
        except ValueError:
            log.warning("ignoring malformed WATCHDOG_USEC/WATCHDOG_PID")
            usec = pid = None
        return cls(env.get("NOTIFY_SOCKET"), watchdog_usec=usec, watchdog_pid=pid)

    @property
    def enabled(self) -> bool:
        """True when a notification socket is configured."""
        return self._address is not None

    def watchdog_interval(self) -> float | None:
        """Seconds between ``WATCHDOG=1`` pings (half of ``WATCHDOG_USEC``), or None if off."""
        if not self.enabled or not self._watchdog_usec or self._watchdog_usec <= 0:
            return None
        if self._watchdog_pid is not None and self._watchdog_pid != os.getpid():
            return None
        return self._watchdog_usec / 2 / 1_000_000

    def send(self, *assignments: str) -> bool:
        """Send ``KEY=VALUE`` lines as one datagram. Returns True if it was sent."""
        if self._address is None:
            return False
        payload = "\n".join(assignments).encode()
        with self._lock:
            try:
                if self._sock is None:
                    self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                    # A receiver that stops reading must not freeze the agent: give up on a
                    # message after a short wait instead of blocking forever.
                    self._sock.settimeout(SEND_TIMEOUT)
                self._sock.sendto(payload, self._address)
            except OSError as exc:
                log.debug("sd_notify failed: %s", exc)
                return False
        return True

    def ready(self, status: str | None = None) -> bool:
        """``READY=1`` (with an optional ``STATUS=`` line)."""
        lines = ["READY=1"]
        if status:
            lines.append("STATUS=" + _one_line(status))
        return self.send(*lines)

    def status(self, text: str) -> bool:
        """``STATUS=`` a one-line summary."""
        return self.send("STATUS=" + _one_line(text))

    def watchdog(self) -> bool:
        """``WATCHDOG=1`` keep-alive ping."""
        return self.send("WATCHDOG=1")

    def reloading(self) -> bool:
        """``RELOADING=1`` with ``MONOTONIC_USEC`` as ``Type=notify-reload`` requires."""
        usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        return self.send("RELOADING=1", f"MONOTONIC_USEC={usec}")

    def stopping(self) -> bool:
        """``STOPPING=1``."""
        return self.send("STOPPING=1")

    def close(self) -> None:
        """Close the datagram socket (it is reopened on the next send)."""
        with self._lock:
            if self._sock is not None:
                self._sock.close()
                self._sock = None
