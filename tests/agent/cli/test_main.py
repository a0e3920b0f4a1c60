"""The command line in a subprocess: options, exit codes, config errors, status, dispatch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = dict(os.environ)
    full_env.pop("NOTIFY_SOCKET", None)
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "secrets_agent", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=full_env,
    )


def _vault_config(path: Path, out: Path, vault: Any, secrets: str) -> Path:
    path.write_text(
        f"""
[agent]
output_dir = "{out}"
[backend]
type = "vault"
address = "{vault.url}"
auth = {{ method = "token", token = "{vault.root_token}" }}
{secrets}
"""
    )
    return path


def test_check_reports_every_config_problem_and_writes_nothing(
    tmp_path: Path, tmpfs_dir: Path, canary: str
) -> None:
    out = tmpfs_dir / "out"
    config = tmp_path / "bad.toml"
    config.write_text(
        f"""
[agent]
output_dir = "{out}"
refresh_interval = "soon"
colour = "blue"
[backend]
type = "vault"
address = "http://127.0.0.1:9"
auth = {{ method = "token", token = "{canary}" }}
[[secrets]]
path = "a"
format = "yaml"
[[secrets]]
path = "b"
target = "../escape"
"""
    )
    for command in ("check", "run"):
        result = cli(command, "--config", str(config))
        assert result.returncode == 2, result.stderr
        for key in (
            "agent.refresh_interval",
            "agent.colour",
            "secrets[0].format",
            "secrets[1].target",
        ):
            assert key in result.stderr
        assert canary not in result.stderr + result.stdout
    assert not out.exists()


def test_missing_config_file_is_a_usage_error(tmp_path: Path) -> None:
    assert cli("run", "--once", "--config", str(tmp_path / "absent.toml")).returncode == 2


def test_global_options_and_their_validation(tmp_path: Path) -> None:
    config = str(tmp_path / "absent.toml")
    assert cli("--log-level", "loud", "check", "--config", config).returncode == 2
    assert cli("check", "--config", config, "--log-level", "debug").returncode == 2
    bad_env = cli("check", "--config", config, env={"SECRETS_AGENT_LOG_LEVEL": "chatty"})
    assert bad_env.returncode == 2 and "SECRETS_AGENT_LOG_LEVEL" in bad_env.stderr
    assert cli().returncode == 2
    assert cli("--help").returncode == 0


def test_json_logs(vault: Any, tmp_path: Path, tmpfs_dir: Path) -> None:
    vault.put_secret("a", {"k": "v"})
    config = _vault_config(tmp_path / "c.toml", tmpfs_dir / "out", vault, '[[secrets]]\npath = "a"')
    result = cli(
        "--log-format", "json", "--log-level", "debug", "run", "--once", "--config", str(config)
    )
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stderr.splitlines() if line.strip()]
    assert lines and all({"ts", "level", "logger", "message"} <= set(line) for line in lines)
    assert any(line["level"] == "debug" for line in lines)


def test_check_confirms_each_secret_and_writes_nothing(
    vault: Any, tmp_path: Path, tmpfs_dir: Path, canary: str
) -> None:
    vault.put_secret("a", {"k": canary})
    out = tmpfs_dir / "out"
    secrets = '[[secrets]]\npath = "a"\n[[secrets]]\npath = "nope"\n'
    config = _vault_config(tmp_path / "c.toml", out, vault, secrets)
    result = cli("--log-level", "debug", "check", "--config", str(config))
    assert result.returncode == 1
    assert "ok    a" in result.stdout and "FAIL  nope" in result.stdout
    assert canary not in result.stdout + result.stderr
    assert not out.exists()
    only_good = _vault_config(tmp_path / "d.toml", out, vault, '[[secrets]]\npath = "a"')
    assert cli("check", "--config", str(only_good)).returncode == 0
    assert not out.exists()


def test_status_before_and_after_a_run(vault: Any, tmp_path: Path, tmpfs_dir: Path) -> None:
    vault.put_secret("a", {"k": "v"})
    config = _vault_config(tmp_path / "c.toml", tmpfs_dir / "out", vault, '[[secrets]]\npath = "a"')
    assert cli("status", "--config", str(config)).returncode == 1
    assert cli("run", "--once", "--config", str(config)).returncode == 0
    table = cli("status", "--config", str(config))
    assert table.returncode == 0 and "a" in table.stdout
    as_json = cli("status", "--config", str(config), "--json")
    document = json.loads(as_json.stdout)
    assert document["secrets"][0]["target"] == "a"
    assert document["secrets"][0]["version"] == "1"


def test_delegated_commands_parse_their_own_arguments() -> None:
    result = cli("dev-server", "--help")
    assert result.returncode == 0 and "--port" in result.stdout


def test_a_missing_command_module_is_a_clean_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from secrets_agent.cli import main as cli_main

    missing = cli_main.Command("secrets_agent.not_there", "x", hardened=False)
    monkeypatch.setitem(cli_main.COMMANDS, "demo", missing)
    assert cli_main.run_command("demo", []) == 2


def test_every_command_parses_its_own_options_and_help() -> None:
    for name in ("run", "check", "status", "exec", "demo"):
        result = cli(name, "--help")
        assert result.returncode == 0, (name, result.stderr)
        assert f"secrets-agent {name}" in result.stdout
    assert "--pass-env" in cli("exec", "--help").stdout
    assert cli("check").returncode == 2  # --config is required
    assert cli("no-such-command").returncode == 2


def test_argv_is_split_after_the_command_name() -> None:
    from secrets_agent.cli.main import split_argv

    assert split_argv(["--log-level", "debug", "run", "--once"]) == (
        ["--log-level", "debug", "run"],
        ["--once"],
    )
    assert split_argv(["--log-format", "json", "exec", "--", "run"]) == (
        ["--log-format", "json", "exec"],
        ["--", "run"],
    )
    assert split_argv(["bogus", "run"]) == (["bogus", "run"], [])


def test_run_once_refuses_non_tmpfs_output_dir_without_creating_it(tmp_path: Path) -> None:
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
