"""The environment ``exec`` builds for its command: allow-list, --pass-env, credentials."""

from __future__ import annotations

from pathlib import Path

import pytest
from secrets_agent.cli.exec_env import (
    SecretEnvError,
    child_environment,
    is_credential,
    parse_env_options,
    parse_pass_env,
    secret_values,
)

AGENT_ENV = {
    "PATH": "/usr/bin",
    "HOME": "/home/app",
    "LANG": "C.UTF-8",
    "LC_ALL": "C.UTF-8",
    "TZ": "UTC",
    "SECRET_BACKEND": "file",
    "VAULT_TOKEN": "hvs.token",
    "VAULT_ADDR": "https://vault:8200",
    "BAO_TOKEN": "s.bao",
    "AWS_ACCESS_KEY_ID": "AKIA",
    "AWS_SECRET_ACCESS_KEY": "key",
    "AWS_SESSION_TOKEN": "session",
    "AWS_REGION": "eu-west-1",
    "CREDENTIALS_DIRECTORY": "/run/credentials/app",
    "NOTIFY_SOCKET": "/run/systemd/notify",
    "WATCHDOG_USEC": "30000000",
    "SECRETS_AGENT_LOG_LEVEL": "debug",
    "SECRETS_AGENT_PASS_ENV": "APP_*",
    "APP_PORT": "8080",
    "DATABASE_HOST": "db",
}


def test_default_keeps_the_documented_allow_list_only() -> None:
    result = child_environment(AGENT_ENV, "/run/secrets")
    assert result.env == {
        "PATH": "/usr/bin",
        "HOME": "/home/app",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "TZ": "UTC",
        "SECRET_BACKEND": "file",
        "SECRETS_DIR": "/run/secrets",
    }
    assert set(result.dropped) == set(AGENT_ENV) - set(result.env)
    assert list(result.dropped) == sorted(result.dropped)


def test_patterns_pass_families_but_never_credentials() -> None:
    env = child_environment(AGENT_ENV, "/out", ["APP_*", "VAULT_*", "AWS_*", "*"]).env
    assert env["APP_PORT"] == "8080" and env["DATABASE_HOST"] == "db"
    assert not [name for name in env if is_credential(name)]
    assert "NOTIFY_SOCKET" not in env and "SECRETS_AGENT_LOG_LEVEL" not in env


def test_exact_names_pass_credentials_but_never_the_agents_own_variables() -> None:
    passed = ["VAULT_TOKEN", "AWS_REGION", "NOTIFY_SOCKET", "SECRETS_AGENT_LOG_LEVEL"]
    env = child_environment(AGENT_ENV, "/out", passed).env
    assert env["VAULT_TOKEN"] == "hvs.token" and env["AWS_REGION"] == "eu-west-1"
    assert "VAULT_ADDR" not in env and "AWS_SECRET_ACCESS_KEY" not in env
    assert "NOTIFY_SOCKET" not in env and "SECRETS_AGENT_LOG_LEVEL" not in env


def test_an_existing_secrets_dir_is_kept() -> None:
    env = child_environment({"SECRETS_DIR": "/elsewhere"}, "/out").env
    assert env == {"SECRETS_DIR": "/elsewhere"}


def test_pass_env_names_from_options_and_variable() -> None:
    assert parse_pass_env(["A", "B_*"], "C, D E") == ("A", "B_*", "C", "D", "E")
    assert parse_pass_env([], None) == ()
    for bad in ("A-B", "*", "A*B", "1A", ""):
        with pytest.raises(ValueError, match="not a variable name"):
            parse_pass_env([bad], None)


def test_env_options_are_name_equals_key() -> None:
    assert parse_env_options(["DB=postgres/password", "K=a=b"]) == (
        ("DB", "postgres/password"),
        ("K", "a=b"),
    )
    for bad, why in [
        ("DB", "must be NAME=secret/field"),
        ("=x", "not a variable name"),
        ("A-B=x", "not a variable name"),
        ("WATCHDOG_USEC=x", "agent's own process"),
    ]:
        with pytest.raises(ValueError, match=why):
            parse_env_options([bad])


def test_secret_values_are_read_from_the_agent_files(tmpfs_dir: Path, canary: str) -> None:
    (tmpfs_dir / "db").mkdir()
    (tmpfs_dir / "db" / "password").write_text(canary)
    (tmpfs_dir / "db" / "nul").write_bytes(b"a\0b")
    (tmpfs_dir / "db" / "link").symlink_to("/etc/hostname")
    assert secret_values(str(tmpfs_dir), [("DB_PASSWORD", "db/password")]) == {
        "DB_PASSWORD": canary
    }
    for key, why in [
        ("db/missing", "not found"),
        ("db/nul", "NUL byte"),
        ("db/link", "outside"),  # a symlink out of the directory is refused, never followed
    ]:
        with pytest.raises(SecretEnvError, match=why) as info:
            secret_values(str(tmpfs_dir), [("NAME", key)])
        assert "NAME" in str(info.value) and key in str(info.value)
        assert "a\0b" not in str(info.value)
