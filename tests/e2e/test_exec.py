"""``secrets-agent exec`` end to end: real dev server, real tmpfs, real child processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

AGENT = [sys.executable, "-m", "secrets_agent"]


@dataclass
class Setup:
    vault: Any
    config: Path
    output_dir: Path
    work: Path
    canary: str

    def script(self, name: str, body: str) -> Path:
        """Write a child program; returns its path (run it with this interpreter)."""
        path = self.work / name
        path.write_text(textwrap.dedent(body))
        return path


def write_config(
    path: Path,
    *,
    address: str,
    token_file: Path,
    output_dir: Path,
    secrets: list[str],
    refresh: str = "5m",
) -> None:
    tables = "".join(f'\n[[secrets]]\npath = "{name}"\n' for name in secrets)
    path.write_text(
        textwrap.dedent(
            f"""
            [agent]
            output_dir = "{output_dir}"
            refresh_interval = "{refresh}"

            [backend]
            type = "vault"
            address = "{address}"
            auth = {{ method = "token", token_file = "{token_file}" }}
            """
        )
        + tables
    )


@pytest.fixture
def setup(vault: Any, tmpfs_dir: Path, tmp_path: Path, canary: str) -> Iterator[Setup]:
    vault.put_secret("app", {"username": "svc", "password": canary})
    token_file = tmp_path / "token"
    token_file.write_text(vault.root_token)
    config = tmp_path / "agent.toml"
    output_dir = tmpfs_dir / "secrets"
    write_config(
        config,
        address=vault.url,
        token_file=token_file,
        output_dir=output_dir,
        secrets=["app"],
    )
    yield Setup(vault, config, output_dir, tmp_path, canary)


def exec_argv(config: Path, *command: str, extra: tuple[str, ...] = ()) -> list[str]:
    return [*AGENT, "exec", "--config", str(config), *extra, "--", *command]


def run_exec(argv: list[str], *, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def start_exec(argv: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.02)


def assert_no_leak(canary: str, *outputs: str) -> None:
    for output in outputs:
        assert canary not in output


def test_child_sees_the_files_and_the_environment(setup: Setup) -> None:
    child = setup.script(
        "child.py",
        """
        import hashlib, os, stat, sys
        base = os.environ["SECRETS_DIR"]
        path = os.path.join(base, "app", "password")
        value = open(path).read()
        st = os.stat(path)
        print("sha", hashlib.sha256(value.encode()).hexdigest())
        print("mode", oct(stat.S_IMODE(st.st_mode)))
        print("notify", os.environ.get("NOTIFY_SOCKET"))
        print("fd0", os.readlink("/proc/self/fd/0"))
        """,
    )
    env = {**os.environ, "NOTIFY_SOCKET": "/nonexistent/notify"}
    result = subprocess.run(
        exec_argv(setup.config, sys.executable, str(child)),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    import hashlib

    digest = hashlib.sha256(setup.canary.encode()).hexdigest()
    lines = result.stdout.splitlines()
    assert f"sha {digest}" in lines
    assert "mode 0o400" in lines
    assert "notify None" in lines  # the child is not the service's main process
    assert "fd0 /dev/null" in lines  # same stdio as the agent
    assert (setup.output_dir / "app" / "username").read_text() == "svc"
    assert_no_leak(setup.canary, result.stdout, result.stderr)


@pytest.mark.parametrize("code", [0, 3, 255])
def test_exit_code_propagates(setup: Setup, code: int) -> None:
    result = run_exec(exec_argv(setup.config, sys.executable, "-c", f"raise SystemExit({code})"))
    assert result.returncode == code, result.stderr


def test_child_killed_by_signal_gives_128_plus_n(setup: Setup) -> None:
    kill_self = "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"
    result = run_exec(exec_argv(setup.config, sys.executable, "-c", kill_self))
    assert result.returncode == 128 + signal.SIGKILL


def test_signals_are_forwarded(setup: Setup) -> None:
    log = setup.work / "signals.log"
    child = setup.script(
        "trap.py",
        f"""
        import os, signal, sys, time
        log = open({str(log)!r}, "a", buffering=1)
        def note(sig, frame):
            log.write(signal.Signals(sig).name + "\\n")
            if sig == signal.SIGTERM:
                sys.exit(42)
        for name in ("SIGHUP", "SIGINT", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGTERM"):
            signal.signal(getattr(signal, name), note)
        log.write("ready\\n")
        while True:
            time.sleep(0.05)
        """,
    )
    proc = start_exec(exec_argv(setup.config, sys.executable, str(child)))
    try:
        wait_for(lambda: log.exists() and "ready" in log.read_text())
        sent = [signal.SIGHUP, signal.SIGINT, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2]
        for sig in sent:
            count = len(log.read_text().splitlines())
            proc.send_signal(sig)
            wait_for(lambda c=count: len(log.read_text().splitlines()) > c)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == 42, err
    names = log.read_text().split()
    assert names == ["ready", *(s.name for s in sent), "SIGTERM"]


def test_forwarded_sigterm_with_default_action_exits_143(setup: Setup) -> None:
    ready = setup.work / "ready"
    child = f"import pathlib, time; pathlib.Path({str(ready)!r}).touch(); time.sleep(60)"
    proc = start_exec(exec_argv(setup.config, sys.executable, "-c", child))
    try:
        wait_for(ready.exists)
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == 128 + signal.SIGTERM


@pytest.mark.parametrize("argv_tail", [[], ["--"]], ids=["nothing", "dashes-only"])
def test_no_command_is_a_usage_error(setup: Setup, argv_tail: list[str]) -> None:
    result = run_exec([*AGENT, "exec", "--config", str(setup.config), *argv_tail])
    assert result.returncode == 2
    assert "no command" in result.stderr
    assert setup.vault.request_count == 0  # nothing was synced


def test_command_not_found_exits_127(setup: Setup) -> None:
    result = run_exec(exec_argv(setup.config, "no-such-command-tmpfs-secrets"))
    assert result.returncode == 127
    assert result.stderr.strip().splitlines() == [
        "secrets-agent exec: no-such-command-tmpfs-secrets: command not found"
    ]


def test_command_not_executable_exits_126(setup: Setup) -> None:
    script = setup.work / "not-executable.sh"
    script.write_text("#!/bin/sh\nexit 0\n")
    script.chmod(0o644)
    result = run_exec(exec_argv(setup.config, str(script)))
    assert result.returncode == 126
    assert "permission denied" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_missing_secret_does_not_start_the_child(setup: Setup, tmp_path: Path) -> None:
    marker = setup.work / "started"
    config = tmp_path / "missing.toml"
    write_config(
        config,
        address=setup.vault.url,
        token_file=setup.work / "token",
        output_dir=setup.output_dir,
        secrets=["app", "does-not-exist"],
    )
    result = run_exec(exec_argv(config, "touch", str(marker)))
    assert result.returncode == 1
    assert not marker.exists()
    assert "does-not-exist" in result.stderr
    assert "not starting" in result.stderr
    assert_no_leak(setup.canary, result.stdout, result.stderr)


def test_unreadable_credential_file_fails_before_the_child(setup: Setup, tmp_path: Path) -> None:
    marker = setup.work / "started"
    config = tmp_path / "nocred.toml"
    write_config(
        config,
        address=setup.vault.url,
        token_file=tmp_path / "no-such-token-file",
        output_dir=setup.output_dir,
        secrets=["app"],
    )
    result = run_exec(exec_argv(config, "touch", str(marker)))
    assert result.returncode == 1, result.stderr
    assert not marker.exists()
    assert "no-such-token-file" in result.stderr or "token" in result.stderr


def test_invalid_config_is_a_usage_error(setup: Setup, tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text('[agent]\noutput_dir = "relative"\nbogus = 1\n')
    result = run_exec(exec_argv(config, "true"))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "invalid config" in lines[0]


def test_unknown_change_signal_is_a_usage_error(setup: Setup) -> None:
    result = run_exec(exec_argv(setup.config, "true", extra=("--signal-on-change", "NOPE")))
    assert result.returncode == 2
    assert "unknown signal" in result.stderr


def test_terminating_signal_during_first_sync_stops_before_the_child(setup: Setup) -> None:
    marker = setup.work / "started"
    setup.vault.set_latency(5)
    proc = start_exec(exec_argv(setup.config, "touch", str(marker)))
    try:
        wait_for(lambda: setup.vault.request_count > 0)
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
        elapsed = time.monotonic() - started
    finally:
        setup.vault.set_latency(0)
        proc.kill()
        proc.wait()
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert not marker.exists()
    assert elapsed < 4  # did not wait for the slow backend


# Runs the agent with a pause after every file (or set of files) it changes, so writes take long
# (as they could on a loaded machine). A child signalled before the last of them is in place
# would read a mix of old and new values.
SLOW_WRITES = """
import runpy, sys, time
from secrets_agent.writer import writer

original = writer.SecretWriter.write

def write(self, relpath, content, **kwargs):
    changed = original(self, relpath, content, **kwargs)
    if changed and not relpath.startswith("."):
        time.sleep(%(pause)r)
    return changed

writer.SecretWriter.write = write
original_files = writer.SecretWriter.write_files

def write_files(self, files, **kwargs):
    changed = original_files(self, files, **kwargs)
    if changed:
        time.sleep(%(pause)r)
    return changed

writer.SecretWriter.write_files = write_files
sys.argv[0] = "secrets-agent"
runpy.run_module("secrets_agent", run_name="__main__", alter_sys=True)
"""
WRITE_PAUSE = 0.6  # longer than any event delivery delay plus the signal's coalescing window


def test_rotation_signals_the_child_once_after_every_file_is_in_place(
    setup: Setup, tmp_path: Path
) -> None:
    config = tmp_path / "fast.toml"
    write_config(
        config,
        address=setup.vault.url,
        token_file=setup.work / "token",
        output_dir=setup.output_dir,
        secrets=["app"],
        refresh="1s",
    )
    log = setup.work / "hups.log"
    child = setup.script(
        "reload.py",
        f"""
        import hashlib, os, signal, sys, time
        log = open({str(log)!r}, "a", buffering=1)
        base = os.path.join(os.environ["SECRETS_DIR"], "app")
        def digest(name):
            return hashlib.sha256(open(os.path.join(base, name), "rb").read()).hexdigest()
        def both():
            return digest("username") + " " + digest("password")
        def on_hup(sig, frame):
            log.write("HUP " + both() + "\\n")
        signal.signal(signal.SIGHUP, on_hup)
        signal.signal(signal.SIGTERM, lambda s, f: sys.exit(0))
        log.write("ready " + both() + "\\n")
        while True:
            time.sleep(0.05)
        """,
    )
    agent = setup.script("slow_agent.py", SLOW_WRITES % {"pause": WRITE_PAUSE})
    argv = exec_argv(config, sys.executable, str(child), extra=("--signal-on-change", "HUP"))
    proc = start_exec([sys.executable, str(agent), *argv[len(AGENT) :]])
    try:
        wait_for(lambda: log.exists() and "ready" in log.read_text())
        time.sleep(2.5)  # refreshes that find the same value must not signal
        assert "HUP" not in log.read_text()
        new_user, new_value = "svc2", setup.canary + "-rotated"
        setup.vault.put_secret("app", {"username": new_user, "password": new_value})
        wait_for(lambda: "HUP" in log.read_text(), timeout=30)
        time.sleep(1.5)  # no second signal for the same rotation (refreshes every 1 s)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
        proc.wait()
    import hashlib

    def sha(text: str) -> str:
        return hashlib.sha256(text.encode()).hexdigest()

    assert proc.returncode == 0, err
    lines = log.read_text().splitlines()
    assert lines[0] == f"ready {sha('svc')} {sha(setup.canary)}"
    # one signal for the rotation, sent once both files hold the new values
    assert lines[1:] == [f"HUP {sha(new_user)} {sha(new_value)}"]
    assert_no_leak(setup.canary, out, err)


ORPHAN_CHILD = """
import os, sys, time
# Leave an orphan: a grandchild whose parent exits at once is re-parented to PID 1.
read_end, write_end = os.pipe()
pid = os.fork()
if pid == 0:
    orphan = os.fork()
    if orphan == 0:
        time.sleep(0.2)
        os._exit(0)
    os.write(write_end, str(orphan).encode())
    os._exit(0)
os.waitpid(pid, 0)
orphan = int(os.read(read_end, 32))

def state(pid):
    try:
        stat = open(f"/proc/{pid}/stat").read()
    except OSError:
        return None  # reaped
    return stat[stat.rfind(")") + 2 :].split()[0]

# "exited": wait until the orphan has exited (a zombie until its new parent reaps it);
# "reaped": until PID 1 has reaped it and it is gone from /proc. At most 3 s either way.
until = sys.argv[1]
deadline = time.monotonic() + 3
while time.monotonic() < deadline:
    now = state(orphan)
    if now is None or (until == "exited" and now == "Z"):
        break
    time.sleep(0.02)
zombies = 0
for entry in os.listdir("/proc"):
    if entry.isdigit():
        try:
            stat = open(f"/proc/{entry}/stat").read()
        except OSError:
            continue
        state, ppid = stat[stat.rfind(")") + 2 :].split()[:2]
        zombies += state == "Z" and ppid == "1"
print("pid1", open("/proc/1/comm").read().strip(), "zombies", zombies)
"""


def _unshare() -> list[str]:
    argv = ["unshare", "--pid", "--fork", "--mount-proc"]
    try:
        probe = subprocess.run([*argv, "true"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError) as exc:
        pytest.skip(f"unshare is unavailable: {exc}")
    if probe.returncode != 0:
        pytest.skip(f"cannot create a PID namespace here: {probe.stderr.strip()}")
    return argv


def test_zombies_are_reaped_as_pid_1(setup: Setup) -> None:
    unshare = _unshare()
    child = setup.script("orphans.py", ORPHAN_CHILD)
    # Control: under a plain Python PID 1 the orphan becomes a zombie, so the scenario is real.
    control = subprocess.run(
        [*unshare, sys.executable, str(child), "exited"], capture_output=True, text=True, timeout=60
    )
    assert control.stdout.split()[-1] != "0", control.stdout + control.stderr
    result = run_exec([*unshare, *exec_argv(setup.config, sys.executable, str(child), "reaped")])
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-1] == "0", result.stdout


GRANDCHILD = """
import os, subprocess, sys, time
pidfile, done = sys.argv[1], sys.argv[2]
grandchild = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
with open(pidfile + ".tmp", "w") as out:
    out.write(str(grandchild.pid))
os.replace(pidfile + ".tmp", pidfile)
while not os.path.exists(done):
    time.sleep(0.02)
grandchild.kill()
grandchild.wait()
"""


def _environ_of(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    return dict(entry.split("=", 1) for entry in raw.decode().split("\0") if "=" in entry)


def test_the_login_credential_never_reaches_the_command_or_its_children(
    setup: Setup, tmp_path: Path
) -> None:
    """The attack: a workload reads its own (or a grandchild's) environment for the agent's
    token and cloud keys. It finds none of them; only what was passed by name."""
    config = tmp_path / "env-token.toml"
    config.write_text(
        f'[agent]\noutput_dir = "{setup.output_dir}"\n[backend]\ntype = "vault"\n'
        f'address = "{setup.vault.url}"\nauth = {{ method = "token" }}\n'
        '[[secrets]]\npath = "app"\n'
    )
    credentials = {
        "VAULT_TOKEN": setup.vault.root_token,  # the agent really logs in with this one
        "VAULT_ADDR": setup.vault.url,
        "VAULT_SECRET_ID": "sid-" + setup.canary,
        "BAO_TOKEN": "bao-" + setup.canary,
        "AWS_ACCESS_KEY_ID": "AKIA" + setup.canary,
        "AWS_SECRET_ACCESS_KEY": "aws-" + setup.canary,
        "AWS_SESSION_TOKEN": "session-" + setup.canary,
        "CREDENTIALS_DIRECTORY": str(tmp_path / ("creds-" + setup.canary)),
        "NOTIFY_SOCKET": "/nonexistent/notify",
        "SECRETS_AGENT_LOG_LEVEL": "info",
    }
    env = {
        **os.environ,
        **credentials,
        "APP_PORT": "8080",
        "APP_MODE": "blue",
        "UNLISTED": "dropped",
        "TZ": "UTC",
    }
    pidfile, done = tmp_path / "grandchild.pid", tmp_path / "done"
    child = setup.script("spawn.py", GRANDCHILD)
    argv = exec_argv(
        config, sys.executable, str(child), str(pidfile), str(done), extra=("--pass-env", "APP_*")
    )
    proc = subprocess.Popen(
        argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, env=env,
    )  # fmt: skip
    try:
        wait_for(pidfile.exists)
        grandchild = int(pidfile.read_text())
        seen = _environ_of(grandchild)
        raw = Path(f"/proc/{grandchild}/environ").read_bytes()
        done.touch()
        out, err = proc.communicate(timeout=30)
    finally:
        done.touch()
        proc.kill()
        proc.wait()
    assert proc.returncode == 0, err
    assert (setup.output_dir / "app" / "password").read_text() == setup.canary  # it logged in
    for name, value in credentials.items():
        assert name not in seen
        assert value.encode() not in raw or name == "SECRETS_AGENT_LOG_LEVEL"
    assert setup.canary.encode() not in raw
    assert seen["APP_PORT"] == "8080" and seen["APP_MODE"] == "blue"
    assert "UNLISTED" not in seen
    assert seen["PATH"] == os.environ["PATH"] and seen["TZ"] == "UTC"
    assert seen["SECRETS_DIR"] == str(setup.output_dir)
    assert "VAULT_TOKEN" in err and "UNLISTED" in err  # names of what was held back, no values
    assert_no_leak(setup.canary, out, err)
    assert setup.vault.root_token not in out + err


def test_a_credential_passes_only_when_named_exactly(setup: Setup, tmp_path: Path) -> None:
    show = "import os; print(sorted(k for k in os.environ if k.startswith(('VAULT_', 'AWS_'))))"
    env = {**os.environ, "VAULT_NAMESPACE": "team", "AWS_REGION": "eu-west-1",
           "AWS_SECRET_ACCESS_KEY": "aws-" + setup.canary}  # fmt: skip
    argv = exec_argv(
        setup.config,
        sys.executable,
        "-c",
        show,
        extra=("--pass-env", "VAULT_*", "--pass-env", "AWS_REGION", "--pass-env", "AWS_*"),
    )
    result = subprocess.run(
        argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60, env=env
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "['AWS_REGION']"
    bad = run_exec(exec_argv(setup.config, "true", extra=("--pass-env", "NOT-A-NAME")))
    assert bad.returncode == 2 and "--pass-env" in bad.stderr


# A child that logs, at every start, a digest of the value it got in DB_PASSWORD, read from its
# own /proc/self/environ, and whether any agent credential reached it.
ENV_CHILD = """
import hashlib, os, signal, sys, time
log = open({log!r}, "a", buffering=1)
environ = dict(
    entry.split(b"=", 1) for entry in open("/proc/self/environ", "rb").read().split(b"\\0") if entry
)
value = environ.get(b"DB_PASSWORD", b"")
leaked = sorted(k.decode() for k in environ if k.startswith((b"VAULT_", b"AWS_", b"BAO_")))
def stop(sig, frame):
    log.write("stop %d\\n" % os.getpid())
    sys.exit(0)
signal.signal(signal.SIGTERM, stop if {obey_term} else signal.SIG_IGN)
signal.signal(signal.SIGHUP, lambda s, f: log.write("HUP\\n"))
log.write("start %d %s %s\\n" % (os.getpid(), hashlib.sha256(value).hexdigest(), leaked))
while True:
    time.sleep(0.05)
"""


def _sha(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode()).hexdigest()


def _starts(log: Path) -> list[list[str]]:
    if not log.exists():
        return []
    return [
        line.split(" ", 3)[1:] for line in log.read_text().splitlines() if line.startswith("start")
    ]


def _env_config(setup: Setup, path: Path, exec_table: str = "") -> Path:
    setup.vault.put_secret("other", {"k": "v1"})
    write_config(
        path,
        address=setup.vault.url,
        token_file=setup.work / "token",
        output_dir=setup.output_dir,
        secrets=["app", "other"],
        refresh="1s",
    )
    path.write_text(path.read_text() + exec_table)
    return path


def test_a_rotation_restarts_the_command_with_the_new_value(setup: Setup, tmp_path: Path) -> None:
    config = _env_config(setup, tmp_path / "env.toml")
    log = setup.work / "starts.log"
    child = setup.script("env_child.py", ENV_CHILD.format(log=str(log), obey_term=True))
    argv = exec_argv(
        config,
        sys.executable,
        str(child),
        extra=("--env", "DB_PASSWORD=app/password", "--restart-on-change"),
    )
    env = {**os.environ, "VAULT_TOKEN": setup.vault.root_token, "AWS_SECRET_ACCESS_KEY": "x"}
    proc = subprocess.Popen(
        argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, env=env,
    )  # fmt: skip
    try:
        wait_for(lambda: len(_starts(log)) == 1)
        (first_pid, first_sha, leaked) = _starts(log)[0]
        assert first_sha == _sha(setup.canary) and leaked == "[]"
        setup.vault.put_secret("other", {"k": "v2"})  # not in its environment: no restart
        wait_for(lambda: (setup.output_dir / "other" / "k").read_text() == "v2")
        time.sleep(1.5)
        assert len(_starts(log)) == 1
        rotated = setup.canary + "-rotated"
        setup.vault.put_secret("app", {"username": "svc", "password": rotated})
        wait_for(lambda: len(_starts(log)) == 2, timeout=30)
        time.sleep(1.5)  # one restart for one rotation
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == 0, err
    starts = _starts(log)
    assert len(starts) == 2
    (second_pid, second_sha, leaked) = starts[1]
    assert second_pid != first_pid and second_sha == _sha(rotated) and leaked == "[]"
    lines = log.read_text().splitlines()
    assert lines.index(f"stop {first_pid}") < lines.index(
        next(x for x in lines if x.startswith(f"start {second_pid}"))
    )
    assert "restarting the command" in err and "DB_PASSWORD" in err
    assert_no_leak(setup.canary, out, err)
    assert rotated not in out + err and setup.vault.root_token not in out + err


def test_exec_table_env_and_a_command_that_ignores_the_stop_signal(
    setup: Setup, tmp_path: Path
) -> None:
    config = _env_config(
        setup,
        tmp_path / "table.toml",
        '\n[exec]\nenv = { DB_PASSWORD = "app/password" }\nrestart_on_change = true\n'
        'stop_timeout = "1s"\n',
    )
    log = setup.work / "starts.log"
    child = setup.script("stubborn.py", ENV_CHILD.format(log=str(log), obey_term=False))
    proc = start_exec(
        exec_argv(config, sys.executable, str(child), extra=("--signal-on-change", "HUP"))
    )
    try:
        wait_for(lambda: len(_starts(log)) == 1)
        setup.vault.put_secret("other", {"k": "v2"})  # not in its environment: signalled only
        wait_for(lambda: "HUP" in log.read_text())
        assert len(_starts(log)) == 1
        setup.vault.put_secret("app", {"username": "svc", "password": "second"})
        wait_for(lambda: len(_starts(log)) == 2, timeout=30)
    finally:
        proc.kill()
        proc.wait()
    starts = _starts(log)
    os.kill(int(starts[1][0]), signal.SIGKILL)  # the new command, left behind by the kill
    assert starts[1][1] == _sha("second")
    assert "stop" not in log.read_text()  # it ignored SIGTERM: killed after stop_timeout
    with pytest.raises(ProcessLookupError):
        os.kill(int(starts[0][0]), 0)  # killed and reaped


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("DB_PASSWORD", "must be NAME=secret/field"),
        ("1X=app/password", "is not a variable name"),
        ("NOTIFY_SOCKET=app/password", "agent's own process"),
        ("DB=nosuch/password", "names no file"),
    ],
)
def test_a_bad_env_option_is_a_usage_error(setup: Setup, option: str, message: str) -> None:
    result = run_exec(exec_argv(setup.config, "true", extra=("--env", option)))
    assert result.returncode == 2 and message in result.stderr, result.stderr
    assert setup.vault.request_count == 0


def test_an_unreadable_env_secret_does_not_start_the_command(setup: Setup, tmp_path: Path) -> None:
    config = tmp_path / "raw.toml"
    config.write_text(setup.config.read_text() + '\n[exec]\nenv = { NAME = "app/missing" }\n')
    marker = tmp_path / "started"
    result = run_exec(exec_argv(config, sys.executable, "-c", f"open({str(marker)!r}, 'w')"))
    assert result.returncode == 1 and "NAME" in result.stderr and "app/missing" in result.stderr
    assert not marker.exists()
