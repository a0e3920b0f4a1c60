"""The env backend: variable names, prefix, and the production guard."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import pytest
from libs.secrets import EnvSecretManager, SecretConfigurationError, SecretNotFoundError
from libs.secrets.backends.env import variable_name


class RecordingEnviron(Mapping[str, str]):
    """An environment that records which variables were looked up."""

    def __init__(self, data: dict[str, str]) -> None:
        self.data = data
        self.read: list[str] = []

    def __getitem__(self, name: str) -> str:
        self.read.append(name)
        return self.data[name]

    def get(self, name: str, default: object = None) -> object:  # type: ignore[override]
        self.read.append(name)
        return self.data.get(name, default)

    def __iter__(self) -> Iterator[str]:
        raise AssertionError("the environment must not be enumerated")

    def __len__(self) -> int:
        return len(self.data)


@pytest.mark.parametrize(
    ("key", "name"),
    [
        ("alpaca/api_key_id", "ALPACA_API_KEY_ID"),
        ("db-main/pass.word", "DB_MAIN_PASS_WORD"),
        ("a@b+c=d/x", "A_B_C_D_X"),
        ("token", "TOKEN"),
    ],
)
def test_variable_names(key: str, name: str) -> None:
    assert variable_name(key) == name


def test_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECRET_ENV_PREFIX", "MYAPP_")
    monkeypatch.setenv("MYAPP_ALPACA_API_KEY_ID", "prefixed")
    monkeypatch.setenv("ALPACA_API_KEY_ID", "plain")
    assert EnvSecretManager().get_secret("alpaca/api_key_id") == "prefixed"
    assert EnvSecretManager({"prefix": ""}).get_secret("alpaca/api_key_id") == "plain"


def test_missing_variable_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(SecretNotFoundError, match="ALPACA_API_KEY_ID"):
        EnvSecretManager().get_secret("alpaca/api_key_id")


@pytest.mark.parametrize("variable", ["ENVIRONMENT", "APP_ENV"])
@pytest.mark.parametrize("value", ["prod", "production", "PROD", "Production", " prod "])
def test_production_guard(variable: str, value: str) -> None:
    environ = RecordingEnviron({variable: value, "ALPACA_API_KEY_ID": "must-not-be-read"})
    with pytest.raises(SecretConfigurationError, match="development only") as info:
        EnvSecretManager(environ=environ)
    assert "must-not-be-read" not in str(info.value)
    assert set(environ.read) <= {"ENVIRONMENT", "APP_ENV"}


def test_production_guard_with_real_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVIRONMENT", "prod")
    with pytest.raises(SecretConfigurationError):
        EnvSecretManager()


@pytest.mark.parametrize("value", ["dev", "staging", "preprod", "production-like", ""])
def test_other_environments_allowed(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("ENVIRONMENT", value)
    monkeypatch.setenv("X_Y", "ok")
    assert EnvSecretManager().get_secret("x/y") == "ok"


def test_unknown_config_key() -> None:
    with pytest.raises(SecretConfigurationError, match="prefx: unknown"):
        EnvSecretManager({"prefx": "A_"})


def test_ttl_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECRET_CACHE_TTL", "42")
    assert EnvSecretManager().ttl_seconds == 42
    assert EnvSecretManager(ttl_seconds=0).ttl_seconds == 0
    monkeypatch.setenv("SECRET_CACHE_TTL", "soon")
    with pytest.raises(SecretConfigurationError, match="SECRET_CACHE_TTL"):
        EnvSecretManager()
    monkeypatch.setenv("SECRET_CACHE_TTL", "-5")
    with pytest.raises(SecretConfigurationError, match="SECRET_CACHE_TTL"):
        EnvSecretManager()
