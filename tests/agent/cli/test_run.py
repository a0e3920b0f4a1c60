"""``secrets-agent run`` in a subprocess: usage errors, JSON logs, the output directory rules."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest


def test_missing_config_file_is_a_usage_error(tmp_path: Path, cli: Any) -> None:
    assert cli("run", "--once", "--config", str(tmp_path / "absent.toml")).returncode == 2


def test_json_logs(
    vault: Any, tmp_path: Path, tmpfs_dir: Path, cli: Any, vault_config: Any
) -> None:
    vault.put_secret("a", {"k": "v"})
    config = vault_config(tmp_path / "c.toml", tmpfs_dir / "out", vault, '[[secrets]]\npath = "a"')
    result = cli(
        "--log-format", "json", "--log-level", "debug", "run", "--once", "--config", str(config)
    )
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stderr.splitlines() if line.strip()]
    assert lines and all({"ts", "level", "logger", "message"} <= set(line) for line in lines)
    assert any(line["level"] == "debug" for line in lines)


def test_run_once_refuses_non_tmpfs_output_dir_without_creating_it(
    tmp_path: Path, cli: Any
) -> None:
    if Path("/proc/mounts").read_text().find(" /tmp tmpfs ") >= 0 and str(tmp_path).startswith(
        "/tmp"
    ):
        pytest.skip("tmp_path is on tmpfs here")
    out = tmp_path / "out"
    config = tmp_path / "agent.toml"
    config.write_text(
        f'[agent]\noutput_dir = "{out}"\n[backend]\ntype = "vault"\n'
        'address = "http://127.0.0.1:9"\nauth = { method = "token", token = "t" }\n'
        '[[secrets]]\npath = "a"\n'
    )
    result = cli("run", "--once", "--config", str(config))
    assert result.returncode == 2, result.stderr
    assert not out.exists()
    errors = [line for line in result.stderr.splitlines() if " error " in line]
    assert len(errors) == 1, result.stderr
    assert "not tmpfs or ramfs" in errors[0]
    assert "status file" not in result.stderr


# What ``run --once`` with a Vault token never needs: each costs start-up CPU that an init
# container pays on every start.
_NOT_IMPORTED_BY_A_VAULT_ONE_SHOT = (
    "hvac",
    "requests",
    "urllib3",
    "apscheduler",
    "boto3",
    "botocore",
    "ctypes.util",
    "http.client",
    "secrets_agent.devserver",
    "secrets_agent.demo",
    "secrets_agent.sources.aws",
    "secrets_agent.daemon.runner",
    "secrets_agent.daemon.scheduler",
    "secrets_agent.daemon.reload",
)
_RUN_THEN_LIST_MODULES = (
    "import sys\n"
    "from secrets_agent.cli.main import main\n"
    "code = main(sys.argv[1:])\n"
    "print('\\n'.join(sorted(sys.modules)))\n"
    "raise SystemExit(code)\n"
)


def test_run_once_with_a_vault_token_imports_no_client_library_nor_daemon_machinery(
    vault: Any, tmp_path: Path, tmpfs_dir: Path
) -> None:
    vault.put_secret("a", {"k": "v"})
    out = tmpfs_dir / "out"
    config = tmp_path / "c.toml"
    config.write_text(
        f'[agent]\noutput_dir = "{out}"\n[backend]\ntype = "vault"\naddress = "{vault.url}"\n'
        f'auth = {{ method = "token", token = "{vault.root_token}" }}\n'
        '[[secrets]]\npath = "a"\nformat = "raw"\nfield = "k"\n'
    )
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env.pop("NOTIFY_SOCKET", None)
    result = subprocess.run(
        [sys.executable, "-c", _RUN_THEN_LIST_MODULES, "run", "--once", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    assert (out / "a").read_text() == "v"
    imported = set(result.stdout.split())
    assert "secrets_agent.sources.vault.source" in imported  # the listing is the real one
    unexpected = [
        name
        for name in _NOT_IMPORTED_BY_A_VAULT_ONE_SHOT
        if any(m == name or m.startswith(name + ".") for m in imported)
    ]
    assert unexpected == []
