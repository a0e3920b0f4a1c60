"""The main loop of ``exec``: forward signals, signal or restart the command on a change.

The main thread owns the child (see :mod:`secrets_agent.cli.exec_child`). The agent's change
listener wakes it through the relay; changes that arrive within ``CHANGE_SETTLE`` (one refresh
cycle) are handled once, then:

* with a ``Restart`` (``--restart-on-change``): the command's environment is built again
  (``Restart.environment``: the secrets are read afresh). If it differs from the one the command
  runs with, the command is stopped (``stop_signal``, then ``SIGKILL`` after ``stop_timeout``)
  and started again with the new one; its exit status in between is not the agent's. A
  terminating signal received while it stops ends ``exec`` instead, with the command's exit
  code. If the environment cannot be built, the command keeps running and a warning names the
  variable;
* otherwise, or when the environment is unchanged, ``change_signal`` (``--signal-on-change``)
  is sent, if set.

Logs name variables, never values.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from secrets_agent.cli.exec_child import (
    CHANGE,
    CHANGE_SETTLE,
    TERMINATING_SIGNALS,
    LaunchError,
    SignalRelay,
    exit_code_of,
    forward,
    reap_orphans_once,
)

log = logging.getLogger(__name__)

Child = subprocess.Popen[bytes]


@dataclass(frozen=True)
class Restart:
    """How ``supervise`` restarts the command when its environment changes."""

    environment: Callable[[], dict[str, str]]  # raises to keep the command running as it is
    start: Callable[[Mapping[str, str]], Child]  # raises LaunchError
    stop_signal: int = int(signal.SIGTERM)
    stop_timeout: float = 10.0


def supervise(
    child: Child,
    relay: SignalRelay,
    *,
    change_signal: int | None = None,
    restart: Restart | None = None,
    env: Mapping[str, str] | None = None,
    reap_orphans: bool | None = None,
) -> int:
    """Run until the command exits; return its shell-style exit code. ``env`` is the
    environment ``child`` was started with (compared on a change when ``restart`` is set)."""
    current = dict(env or {})
    reap = os.getpid() == 1 if reap_orphans is None else reap_orphans
    zombies_seen: dict[int, float] = {}
    change_due: float | None = None  # several files changing together -> one action
    while True:
        returncode = child.poll()
        if returncode is not None:
            return exit_code_of(returncode)
        now = time.monotonic()
        if reap:
            reap_orphans_once(child.pid, zombies_seen, now)
        if change_due is not None and now >= change_due:
            change_due = None
            if restart is not None:
                outcome = _maybe_restart(child, relay, restart, current)
                if isinstance(outcome, int):
                    return outcome
                if outcome is not None:
                    child, current = outcome
                    continue
            if change_signal is not None:
                child.send_signal(change_signal)
        timeout = 0.25 if reap else 1.0
        if change_due is not None:
            timeout = max(0.0, min(timeout, change_due - now))
        for sig in relay.wait(timeout):
            if sig == CHANGE:
                if (change_signal is not None or restart is not None) and change_due is None:
                    change_due = time.monotonic() + CHANGE_SETTLE  # not `now`: before the wait
            else:
                forward(child, sig)


def _maybe_restart(
    child: Child, relay: SignalRelay, restart: Restart, current: dict[str, str]
) -> tuple[Child, dict[str, str]] | int | None:
    """The new child and its environment after a restart, ``None`` when no restart is due, or
    the exit code to end with (a terminating signal arrived, or the new child cannot start)."""
    try:
        new = restart.environment()
    except Exception as exc:  # a secret unreadable now: keep the command as it is
        log.warning("not restarting the command: %s", exc)
        return None
    if new == current:
        return None
    changed = sorted(
        name for name in new.keys() | current.keys() if new.get(name) != current.get(name)
    )
    log.info("restarting the command: its environment changed (%s)", ", ".join(changed))
    stopping = _stop(child, relay, restart.stop_signal, restart.stop_timeout)
    if stopping is not None:
        return exit_code_of(child.returncode if child.returncode is not None else -stopping)
    try:
        new = restart.environment()  # the files may have changed again while it stopped
        return restart.start(new), new
    except LaunchError as exc:
        log.error("cannot start the command again: %s", exc)
        return exc.exit_code
    except Exception as exc:
        log.error("cannot start the command again: %s", exc)
        return 1


def _stop(child: Child, relay: SignalRelay, stop_signal: int, timeout: float) -> int | None:
    """Stop ``child`` (``stop_signal``, ``SIGKILL`` after ``timeout``) and reap it; return a
    terminating signal received meanwhile (forwarded to it), else ``None``."""
    child.send_signal(stop_signal)
    deadline = time.monotonic() + timeout
    killed = False
    stopping: int | None = None
    while child.poll() is None:
        now = time.monotonic()
        if now >= deadline and not killed:
            log.warning("the command did not stop within %.0f s; killing it", timeout)
            child.kill()
            killed = True
        wait = 0.25 if killed else max(0.0, min(0.25, deadline - now))
        for sig in relay.wait(wait):
            if sig in TERMINATING_SIGNALS:
                stopping = sig
                forward(child, sig)
    return stopping
