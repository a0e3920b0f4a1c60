"""exec's supervising loop: a change restarts the command only when its environment differs."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Mapping

import pytest
from secrets_agent.cli.exec_child import SignalRelay
from secrets_agent.cli.exec_supervise import Restart, supervise

SLEEPER = "import time\nwhile True: time.sleep(0.05)"
IGNORES_TERM = (
    "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    "print('ready', flush=True)\n" + SLEEPER
)


def spawn(code: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", code])


class Env:
    """The environment the secrets would give now; records what the command was started with."""

    def __init__(self, *values: dict[str, str]) -> None:
        self.values = list(values)
        self.started: list[dict[str, str]] = []

    def now(self) -> dict[str, str]:
        if len(self.values) > 1:
            return self.values.pop(0)
        return self.values[0]

    def start(self, env: Mapping[str, str]) -> subprocess.Popen[bytes]:
        self.started.append(dict(env))
        return spawn("raise SystemExit(7)")


def test_a_changed_environment_stops_and_starts_the_command() -> None:
    env = Env({"DB": "new"})
    first = spawn(SLEEPER)
    with SignalRelay() as relay:
        relay.notify_change()
        code = supervise(
            first, relay, restart=Restart(env.now, env.start, stop_timeout=5), env={"DB": "old"}
        )
    assert code == 7  # the new command's exit code
    assert first.returncode == -signal.SIGTERM
    assert env.started == [{"DB": "new"}]


def test_an_unchanged_environment_gets_the_change_signal_instead() -> None:
    env = Env({"DB": "same"})
    handler = "import signal, sys\nsignal.signal(signal.SIGHUP, lambda *a: sys.exit(3))\n"
    child = subprocess.Popen(
        [sys.executable, "-c", handler + "print('ready', flush=True)\n" + SLEEPER],
        stdout=subprocess.PIPE,
    )
    assert child.stdout is not None and child.stdout.readline() == b"ready\n"
    with SignalRelay() as relay:
        relay.notify_change()
        code = supervise(
            child,
            relay,
            change_signal=signal.SIGHUP,
            restart=Restart(env.now, env.start),
            env={"DB": "same"},
        )
    child.stdout.close()
    assert code == 3 and env.started == []


def test_a_command_that_ignores_the_stop_signal_is_killed() -> None:
    env = Env({"DB": "new"})
    first = subprocess.Popen([sys.executable, "-c", IGNORES_TERM], stdout=subprocess.PIPE)
    assert first.stdout is not None and first.stdout.readline() == b"ready\n"  # SIGTERM ignored
    with SignalRelay() as relay:
        relay.notify_change()
        code = supervise(
            first, relay, restart=Restart(env.now, env.start, stop_timeout=0.5), env={"DB": "old"}
        )
    first.stdout.close()
    assert code == 7 and first.returncode == -signal.SIGKILL


def test_an_unreadable_secret_keeps_the_command_running(caplog: pytest.LogCaptureFixture) -> None:
    def broken() -> dict[str, str]:
        raise RuntimeError("DB: cannot read secret 'db/password'")

    child = spawn("import time; time.sleep(1.0)")
    with SignalRelay() as relay:
        relay.notify_change()
        code = supervise(child, relay, restart=Restart(broken, Env({}).start), env={"DB": "x"})
    assert code == 0  # it ran to its own end
    assert "not restarting the command: DB: cannot read secret" in caplog.text
