"""The command line in a subprocess: global options, dispatch to one module per command."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest


def test_global_options_and_their_validation(tmp_path: Path, cli: Any) -> None:
    config = str(tmp_path / "absent.toml")
    assert cli("--log-level", "loud", "check", "--config", config).returncode == 2
    assert cli("check", "--config", config, "--log-level", "debug").returncode == 2
    bad_env = cli("check", "--config", config, env={"SECRETS_AGENT_LOG_LEVEL": "chatty"})
    assert bad_env.returncode == 2 and "SECRETS_AGENT_LOG_LEVEL" in bad_env.stderr
    assert cli().returncode == 2
    assert cli("--help").returncode == 0


def test_delegated_commands_parse_their_own_arguments(cli: Any) -> None:
    result = cli("dev-server", "--help")
    assert result.returncode == 0 and "--port" in result.stdout


def test_a_missing_command_module_is_a_clean_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from secrets_agent.cli import main as cli_main

    missing = cli_main.Command("secrets_agent.not_there", "x", hardened=False)
    monkeypatch.setitem(cli_main.COMMANDS, "demo", missing)
    assert cli_main.run_command("demo", []) == 2


def test_every_command_parses_its_own_options_and_help(cli: Any) -> None:
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
