"""End to end: two KV secrets of a real OpenBao server rendered into one config file by
`secrets-agent run` in a subprocess, then rotated; status shows the output, never a value."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(scope="module")
def openbao(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from openbao_server import started_for_tests

    server = started_for_tests(tmp_path_factory, "openbao-templates")
    yield server
    server.stop()


def _env() -> dict[str, str]:
    drop = ("NOTIFY_SOCKET", "WATCHDOG_USEC")
    return {k: v for k, v in os.environ.items() if k not in drop and not k.startswith("VAULT_")}


def _wait(predicate: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except FileNotFoundError:
        return None


def test_two_secrets_in_one_file_follow_a_rotation(
    openbao: Any, tmp_path: Path, tmpfs_dir: Path, canary: str
) -> None:
    openbao.put_secret("tmpl/postgres", {"username": "app", "password": canary})
    openbao.put_secret("tmpl/alpaca", {"api_key_id": "AK1", "unused": "x"})
    out = tmpfs_dir / "out"
    config = tmp_path / "agent.toml"
    config.write_text(
        f'''
[agent]
output_dir = "{out}"
refresh_interval = "1s"

[backend]
type = "vault"
address = "{openbao.url}"
auth = {{ method = "token", token = "{openbao.root_token}" }}

[[secrets]]
path = "tmpl/postgres"
format = "none"

[[secrets]]
path = "tmpl/alpaca"

[[templates]]
target = "app/config.ini"
sources = {{ db = "tmpl/postgres", api = "tmpl/alpaca" }}
mode = "0440"
template = """
[database]
url = postgres://{{{{ db.username }}}}:{{{{ db.password | urlquote }}}}@db:5432/app
[broker]
key_id = {{{{ api.api_key_id | json }}}}
"""
'''
    )
    agent = subprocess.Popen(
        [sys.executable, "-m", "secrets_agent", "--log-level", "debug", "run",
         "--config", str(config)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(),
    )  # fmt: skip
    target = out / "app" / "config.ini"
    try:
        expected = (
            f'[database]\nurl = postgres://app:{canary}@db:5432/app\n[broker]\nkey_id = "AK1"\n'
        )
        assert _wait(lambda: _read(target) == expected, 30), _read(target)
        assert target.stat().st_mode & 0o777 == 0o440
        assert not (out / "tmpl" / "postgres").exists()  # format = "none"
        assert (out / "tmpl" / "alpaca" / "api_key_id").read_text() == "AK1"

        openbao.put_secret("tmpl/alpaca", {"api_key_id": "AK2", "unused": "x"})
        assert _wait(lambda: _read(target) == expected.replace("AK1", "AK2"), 30)
        openbao.put_secret("tmpl/postgres", {"username": "app2", "password": canary})
        rotated = expected.replace("AK1", "AK2").replace("//app:", "//app2:")
        assert _wait(lambda: _read(target) == rotated, 30)

        status = subprocess.run(
            [sys.executable, "-m", "secrets_agent", "status", "--json", "--config", str(config)],
            capture_output=True, text=True, timeout=60, env=_env(),
        )  # fmt: skip
        assert status.returncode == 0, status.stderr
        (entry,) = json.loads(status.stdout)["templates"]
        assert entry["sources"] == {"db": "tmpl/postgres", "api": "tmpl/alpaca"}
        assert entry["files"] == ["app/config.ini"] and entry["last_error"] is None
        assert canary not in status.stdout
    finally:
        agent.send_signal(signal.SIGTERM)
        stdout, stderr = agent.communicate(timeout=30)
    assert agent.returncode == 0, stderr
    assert canary not in stdout + stderr
    assert "updated template output app/config.ini" in stderr
