"""The ``[exec]`` table: environment secrets, restart settings, every problem with its key."""

from __future__ import annotations

import signal
from typing import Any

import pytest
from secrets_agent.config.exec_table import parse_signal
from secrets_agent.config.load import ConfigError, parse_config

BASE: dict[str, Any] = {
    "agent": {"output_dir": "/run/secrets"},
    "backend": {
        "type": "vault",
        "address": "http://127.0.0.1:8200",
        "auth": {"method": "token", "token_file": "/etc/vault-token"},
    },
    "secrets": [{"path": "postgres"}, {"path": "alpaca", "format": "raw", "field": "key"}],
}


def with_exec(table: dict[str, Any]) -> dict[str, Any]:
    return {**BASE, "exec": table}


def test_defaults_without_the_table() -> None:
    settings = parse_config(BASE, environ={}).exec
    assert settings.env == () and not settings.restart_on_change
    assert settings.stop_signal == signal.SIGTERM and settings.stop_timeout == 10.0


def test_a_full_table() -> None:
    table = {
        "env": {"DB_PASSWORD": "postgres/password", "API_KEY": "alpaca"},
        "restart_on_change": True,
        "stop_signal": "INT",
        "stop_timeout": "3s",
    }
    settings = parse_config(with_exec(table), environ={}).exec
    assert settings.env == (("DB_PASSWORD", "postgres/password"), ("API_KEY", "alpaca"))
    assert settings.restart_on_change and settings.stop_signal == signal.SIGINT
    assert settings.stop_timeout == 3.0


def test_every_problem_is_reported_with_its_key(canary: str) -> None:
    table = {
        "env": {
            "1BAD": "postgres/password",
            "SECRETS_AGENT_X": "postgres/password",
            "WHOLE": "postgres",  # a fields secret is a directory: name one of its fields
            "RAW_FIELD": "alpaca/key",  # a raw secret is one file
            "ELSEWHERE": "nosuch/" + canary,
            "NUMBER": 3,
        },
        "restart_on_change": "yes",
        "stop_signal": "SIGNOPE",
        "stop_timeout": "-1s",
        "extra": 1,
    }
    with pytest.raises(ConfigError) as info:
        parse_config(with_exec(table), environ={})
    problems = info.value.problems
    keys = sorted(p.split(":", 1)[0] for p in problems)
    assert keys == sorted(
        [
            "exec.env.1BAD",
            "exec.env.SECRETS_AGENT_X",
            "exec.env.WHOLE",
            "exec.env.RAW_FIELD",
            "exec.env.ELSEWHERE",
            "exec.env.NUMBER",
            "exec.restart_on_change",
            "exec.stop_signal",
            "exec.stop_timeout",
            "exec.extra",
        ]
    )
    assert not any(canary in p for p in problems)


@pytest.mark.parametrize(
    ("text", "number"), [("HUP", 1), ("sigterm", 15), (" USR1 ", signal.SIGUSR1), ("9", 9)]
)
def test_signal_names(text: str, number: int) -> None:
    assert parse_signal(text) == number


@pytest.mark.parametrize("text", ["NOPE", "0", "999", ""])
def test_unknown_signals(text: str) -> None:
    with pytest.raises(ValueError, match="unknown signal"):
        parse_signal(text)
