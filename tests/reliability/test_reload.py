"""SIGHUP with a broken config: the running config stays in force and the error is reported
(status file, `secrets-agent status`) until a reload succeeds."""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path
from typing import Any

from reliability_kit import Daemon, agent_cmd, agent_env, record, vault_toml, wait_for


def _start(vault: Any, tmpfs_dir: Path) -> tuple[Daemon, Path, Path]:
    vault.put_secret("app/db", {"password": "one"})
    out = tmpfs_dir / "out"
    config = tmpfs_dir / "agent.toml"
    auth = f'{{ method = "token", token = "{vault.root_token}" }}'
    config.write_text(vault_toml(out, vault.url, ["app/db"], auth=auth, interval="1s"))
    daemon = Daemon(config, out, level="debug")
    assert wait_for(lambda: daemon.all_ok_since(0), timeout=20) is not None, daemon.output
    return daemon, out, config


BROKEN = [
    "this is [not toml",
    '[agent]\noutput_dir = "relative"\n[backend]\ntype = "vault"\n',
    '[agent]\noutput_dir = "/run/x"\nbogus = 1\n[backend]\ntype = "nope"\n[[secrets]]\npath=".."\n',
]


def test_sighup_with_broken_config_keeps_running_config(
    vault: Any, tmpfs_dir: Path, canary: str
) -> None:
    daemon, out, config = _start(vault, tmpfs_dir)
    good = config.read_text()
    reloads = 0
    with daemon:
        for n, text in enumerate(BROKEN, start=2):
            # The broken file also holds an inline token: it must not reach the log.
            config.write_text(text + f'\n# token = "{canary}"\nauth = {{ token = "{canary}" }}\n')
            mark = len(daemon.output)
            daemon.proc.send_signal(signal.SIGHUP)
            assert wait_for(lambda m=mark: b"reload failed" in daemon.output[m:], 10), (
                daemon.output[mark:]
            )
            reloads += 1
            # Still refreshing with the old config: a rotation reaches the file.
            vault.put_secret("app/db", {"password": f"v{n}"})
            assert wait_for(
                lambda n=n: (out / "app/db/password").read_bytes() == f"v{n}".encode(), 10
            ), daemon.output[mark:]
        config.write_text(good)
        daemon.proc.send_signal(signal.SIGHUP)
        assert wait_for(lambda: b"config reloaded" in daemon.output, 10)
        assert daemon.proc.poll() is None
    assert canary.encode() not in daemon.output
    record("reload: SIGHUP with broken config", tried=reloads, lost=0, unit="reloads")


def test_failed_reload_is_reported_in_status(vault: Any, tmpfs_dir: Path, canary: str) -> None:
    daemon, out, config = _start(vault, tmpfs_dir)
    good = config.read_text()
    status_config = tmpfs_dir / "status.toml"  # `status` reads only output_dir from it
    status_config.write_text(good)
    with daemon:
        config.write_text(f'this is [not toml\ntoken = "{canary}"\n')
        daemon.proc.send_signal(signal.SIGHUP)
        assert wait_for(lambda: b"reload failed" in daemon.output, 10)

        def reported() -> object:
            return json.loads((out / ".status.json").read_text())["agent"]["reload_error"]

        assert wait_for(reported, 10) is not None, (out / ".status.json").read_text()
        problems = reported()
        assert isinstance(problems, list) and "invalid TOML" in problems[0], problems
        table = subprocess.run(
            agent_cmd("status", "--config", str(status_config), level="warning"),
            env=agent_env(),
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert table.returncode == 0, table.stderr
        head = table.stdout.splitlines()[0]
        assert "RELOAD FAILED" in head and "invalid TOML" in head, table.stdout
        as_json = subprocess.run(
            agent_cmd("status", "--config", str(status_config), "--json", level="warning"),
            env=agent_env(),
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert json.loads(as_json.stdout)["agent"]["reload_error"] == problems
        text = (out / ".status.json").read_text()

        config.write_text(good)  # the next successful reload clears the report
        daemon.proc.send_signal(signal.SIGHUP)
        assert wait_for(lambda: reported() is None, 10), (out / ".status.json").read_text()
    assert canary not in text and canary not in table.stdout
    assert canary.encode() not in daemon.output
