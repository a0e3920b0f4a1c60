"""The command ``exec`` runs: start it, relay signals to it, reap zombies, return its exit code.

Same stdio as the agent, the environment ``exec_env`` builds. The main thread owns the child
(:mod:`secrets_agent.cli.exec_supervise` is its loop): it waits on a self-pipe fed by
``signal.set_wakeup_fd`` (so a signal wakes it at once), forwards the signals it receives,
signals or restarts the child when the agent reports changed files, and polls the child's
exit. Other threads never touch the child's PID, so a PID cannot be signalled after it was
reaped and reused.

As PID 1 (a container without an init), orphaned processes are re-parented to the agent and
must be reaped, or they stay zombies forever. Zombies that are not the main child are reaped
only after they have stayed zombies for ``ORPHAN_GRACE`` seconds: a process started by another
thread of the agent (an ``on_change`` hook) is reaped by that thread's own ``wait()`` within
milliseconds, so its exit status is never stolen.
"""

from __future__ import annotations

import contextlib
import errno
import os
import select
import signal
import subprocess
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType

from secrets_agent.cli import exitcodes

FORWARDED_SIGNALS = (
    signal.SIGTERM,
    signal.SIGINT,
    signal.SIGHUP,
    signal.SIGQUIT,
    signal.SIGUSR1,
    signal.SIGUSR2,
)
TERMINATING_SIGNALS = frozenset({signal.SIGTERM, signal.SIGINT, signal.SIGQUIT})
# Signals a terminal sends to its whole foreground process group (Ctrl-C, Ctrl-\).
_TTY_SIGNALS = frozenset({signal.SIGINT, signal.SIGQUIT})
CHANGE = 0  # byte written to the wake-up pipe when the agent changed files (no signal is 0)
ORPHAN_GRACE = 1.0
CHANGE_SETTLE = 0.2  # changes reported within this window (one refresh cycle) -> one signal


class LaunchError(Exception):
    """The command cannot be started; ``exit_code`` is 126 (not executable) or 127 (not found)."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def resolve_command(name: str, path: str | None) -> str:
    """Return the executable ``name`` refers to (searched in ``path`` when it has no ``/``)."""
    if "/" in name:
        candidates = [name]
    else:
        dirs = (path if path is not None else os.defpath).split(os.pathsep)
        candidates = [os.path.join(d or ".", name) for d in dirs]  # noqa: PTH118
    found_not_executable = None
    for candidate in candidates:
        if os.path.isfile(candidate):  # noqa: PTH113
            if os.access(candidate, os.X_OK):
                return candidate
            found_not_executable = candidate
    if found_not_executable is not None:
        raise LaunchError(f"{name}: permission denied (not executable)", exitcodes.NOT_EXECUTABLE)
    if os.path.isdir(name):  # noqa: PTH112
        raise LaunchError(f"{name}: is a directory", exitcodes.NOT_EXECUTABLE)
    raise LaunchError(f"{name}: command not found", exitcodes.NOT_FOUND)


def exit_code_of(returncode: int) -> int:
    """A shell-style exit code: the child's own code, or 128+N when signal N killed it."""
    return exitcodes.killed_by(-returncode) if returncode < 0 else returncode


class SignalRelay:
    """Catches the forwarded signals and SIGCHLD into a wake-up pipe (main thread only)."""

    def __init__(self) -> None:
        self._read_fd = -1
        self._write_fd = -1
        self._old_handlers: dict[int, object] = {}
        self._old_wakeup = -1
        self._write_lock = threading.Lock()  # notify_change vs closing the pipe

    def __enter__(self) -> SignalRelay:
        self._read_fd, self._write_fd = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._old_wakeup = signal.set_wakeup_fd(self._write_fd, warn_on_full_buffer=False)
        for sig in (*FORWARDED_SIGNALS, signal.SIGCHLD):
            self._old_handlers[sig] = signal.signal(sig, _ignore)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for sig, handler in self._old_handlers.items():
            signal.signal(sig, handler)  # type: ignore[arg-type]
        signal.set_wakeup_fd(self._old_wakeup)
        with self._write_lock:  # a late notify_change must not write to a reused descriptor
            os.close(self._read_fd)
            os.close(self._write_fd)
            self._read_fd = self._write_fd = -1

    def notify_change(self) -> None:
        """Wake the main loop to signal the child (safe from any thread, and a no-op once the
        relay is closed)."""
        with self._write_lock, contextlib.suppress(BlockingIOError):
            if self._write_fd >= 0:
                os.write(self._write_fd, bytes([CHANGE]))

    def wait(self, timeout: float) -> list[int]:
        """Signal numbers (0 = files changed) received within ``timeout`` seconds, in order."""
        ready, _, _ = select.select([self._read_fd], [], [], timeout)
        if not ready:
            return []
        try:
            return list(os.read(self._read_fd, 512))
        except BlockingIOError:
            return []


def _ignore(signum: int, frame: object) -> None:
    """Python-level handler; the work happens in the main loop via the wake-up pipe."""


def _from_terminal(sig: int) -> bool:
    """True if ``sig`` was most likely sent by our terminal to the whole foreground group.

    The child shares the agent's process group, so the terminal already delivered it there;
    forwarding it too would deliver Ctrl-C twice.
    """
    if sig not in _TTY_SIGNALS:
        return False
    try:
        return os.isatty(0) and os.tcgetpgrp(0) == os.getpgrp()
    except OSError:
        return False


def _reap_orphans(main_pid: int, zombies_seen: dict[int, float], now: float) -> None:
    """Reap children other than ``main_pid`` that have been zombies for ``ORPHAN_GRACE``."""
    me = os.getpid()
    current: set[int] = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == main_pid:
            continue
        try:
            stat = (entry / "stat").read_bytes()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2 :].split()
        if len(fields) < 2 or fields[0] != b"Z" or int(fields[1]) != me:
            continue
        pid = int(entry.name)
        current.add(pid)
        if now - zombies_seen.setdefault(pid, now) >= ORPHAN_GRACE:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
    for pid in list(zombies_seen):
        if pid not in current:
            del zombies_seen[pid]


def start_child(argv: Sequence[str], env: Mapping[str, str]) -> subprocess.Popen[bytes]:
    """Start ``argv`` with the agent's stdio; raise ``LaunchError`` if it cannot start."""
    try:
        return subprocess.Popen(list(argv), env=dict(env), close_fds=True)
    except FileNotFoundError:
        raise LaunchError(f"{argv[0]}: command not found", exitcodes.NOT_FOUND) from None
    except PermissionError:
        raise LaunchError(f"{argv[0]}: permission denied", exitcodes.NOT_EXECUTABLE) from None
    except OSError as exc:
        code = (
            exitcodes.NOT_EXECUTABLE
            if exc.errno in (errno.ENOEXEC, errno.EISDIR)
            else exitcodes.FAILURE
        )
        raise LaunchError(f"{argv[0]}: cannot execute: {exc.strerror}", code) from None


def forward(child: subprocess.Popen[bytes], sig: int) -> None:
    """Send the agent's signal ``sig`` on to ``child`` (not SIGCHLD, not a terminal's Ctrl-C
    that already reached it)."""
    if sig != signal.SIGCHLD and not _from_terminal(sig):
        child.send_signal(sig)


def reap_orphans_once(main_pid: int, zombies_seen: dict[int, float], now: float) -> None:
    """Reap orphaned zombies (as PID 1): see the module docstring."""
    _reap_orphans(main_pid, zombies_seen, now)
