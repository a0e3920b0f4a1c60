"""``secrets-agent run`` in a subprocess: usage errors, JSON logs, the output directory rules."""

from __future__ import annotations

import json
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
