"""Never logged: every command and failure path at DEBUG with canary secret values and a canary
inline token; every channel scanned (stdout, stderr, status, metrics, command lines and
environments of the agent and its on_change children, core dump limits)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from reliability_kit import Daemon, agent_cmd, agent_env, record, vault_toml, wait_for
from secrets_agent.devserver import VaultDevServer


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry))
    return found


def _on_change(pid: int) -> list[int]:
    """The agent's ``sleep 2`` on_change children (not e.g. ldconfig run by ctypes)."""
    found = []
    for child in _children(pid):
        with contextlib.suppress(OSError):
            if Path(f"/proc/{child}/cmdline").read_bytes().startswith(b"sleep\0"):
                found.append(child)
    return found


def _proc_channels(pid: int) -> dict[str, bytes]:
    out = {}
    for name in ("cmdline", "environ"):
        with contextlib.suppress(OSError):
            out[f"{pid}/{name}"] = Path(f"/proc/{pid}/{name}").read_bytes()
    return out


@pytest.fixture
def server(canary: str) -> Any:
    with VaultDevServer(root_token=f"{canary}-token") as vault:
        vault.put_secret("app/db", {"password": canary, "user": f"user-{canary}"})
        vault.put_secret("app/denied", {"k": canary})
        vault.deny("secret/data/app/denied")
        yield vault


def _config(path: Path, out: Path, vault: Any, paths: list[str], **kw: Any) -> Path:
    auth = f'{{ method = "token", token = "{vault.root_token}" }}'
    path.write_text(vault_toml(out, vault.url, paths, auth=auth, timeout="1s", **kw))
    return path


def test_no_channel_carries_a_value(server: Any, tmpfs_dir: Path, canary: str) -> None:
    needle = canary.encode()
    out = tmpfs_dir / "out"
    metrics = tmpfs_dir / "metrics.prom"
    extra_agent = f'metrics_file = "{metrics}"'
    # The one-shot commands run a hook that ends at once; the daemon's lives until the test
    # has read its /proc entries, and is then ended (nothing waits out its 2 s).
    good = _config(
        tmpfs_dir / "good.toml", out, server, ["app/db"], extra_agent=extra_agent,
        extra_secret='on_change = ["sleep", "0"]', interval="1s",
    )  # fmt: skip
    daemon_config = _config(
        tmpfs_dir / "daemon.toml", out, server, ["app/db"], extra_agent=extra_agent,
        extra_secret='on_change = ["sleep", "2"]', interval="1s",
    )  # fmt: skip
    failing = _config(tmpfs_dir / "fail.toml", out, server, ["app/db", "app/missing", "app/denied"])
    bad = tmpfs_dir / "bad.toml"
    bad.write_text(good.read_text() + f'\nunknown_key = "{canary}"\n[extra]\ntoken = "{canary}"\n')
    channels: dict[str, bytes] = {}

    def run(name: str, *args: str) -> None:
        done = subprocess.run(
            agent_cmd(*args), env=agent_env(), capture_output=True, timeout=60, check=False
        )
        channels[name] = done.stdout + done.stderr

    run("run --once", "run", "--once", "--config", str(good))
    run("check", "check", "--config", str(good))
    run("status", "status", "--config", str(good))
    run("status --json", "status", "--json", "--config", str(good))
    run("run --once (missing, denied)", "run", "--once", "--config", str(failing))
    run("check (missing, denied)", "check", "--config", str(failing))
    run("bad config", "run", "--once", "--config", str(bad))
    run("check bad config", "check", "--config", str(bad))
    server.seal()
    run("run --once (sealed)", "run", "--once", "--config", str(failing))
    server.unseal()
    run("exec", "exec", "--config", str(good), "--", "sh", "-c", "echo child-ran")
    assert b"child-ran" in channels["exec"]

    # The daemon: on_change children, reload, stop.
    server.put_secret("app/db", {"password": canary, "user": f"user2-{canary}"})
    with Daemon(daemon_config, out) as daemon:
        assert wait_for(lambda: _on_change(daemon.pid), timeout=15) is not None
        for child in _on_change(daemon.pid):
            channels.update({f"on_change {k}": v for k, v in _proc_channels(child).items()})
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGTERM)  # read: the agent need not wait for it
        channels.update({f"agent {k}": v for k, v in _proc_channels(daemon.pid).items()})
        del channels[f"agent {daemon.pid}/environ"]  # the test's own environment
        ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, check=True)
        channels["ps"] = ps.stdout
        limits = Path(f"/proc/{daemon.pid}/limits").read_text()
        core = next(line for line in limits.splitlines() if line.startswith("Max core"))
        assert core.split()[4:6] == ["0", "0"], core
        assert wait_for(lambda: b"first sync" in daemon.output, 15), daemon.output[-3000:]
        daemon.proc.send_signal(signal.SIGHUP)
        assert wait_for(lambda: b"config reloaded" in daemon.output, 20), daemon.output[-3000:]
        time.sleep(0.5)
    channels["daemon"] = daemon.output
    channels[".status.json"] = (out / ".status.json").read_bytes()
    channels["metrics"] = metrics.read_bytes()
    assert (out / "app/db/password").read_bytes() == needle  # the values did flow

    hits = sorted(name for name, data in channels.items() if needle in data)
    record("never logged: channels scanned", tried=len(channels), lost=len(hits), unit="channels")
    assert hits == []
    assert any(k.startswith("on_change") and k.endswith("environ") for k in channels)
