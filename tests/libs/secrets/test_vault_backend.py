"""The Vault backend against the dev server: KV v1/v2, every auth method, every failure."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from libs.secrets import (
    SecretAccessDeniedError,
    SecretBackendUnavailableError,
    SecretConfigurationError,
    SecretNotFoundError,
    VaultSecretManager,
)
from libs.secrets.outage_memory import FIRST_WINDOW_SECONDS

from .conftest import FakeTimer


def manager_for(vault: Any, **config: Any) -> VaultSecretManager:
    settings = {"address": vault.url, "token": vault.root_token, "timeout": 2, **config}
    return VaultSecretManager(settings, ttl_seconds=0)


def test_environment_configuration(vault: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    vault.enable_kv(mount="kv1", version=1)
    vault.put_secret("alpaca", {"api_key_id": "from-v1"}, mount="kv1")
    monkeypatch.setenv("VAULT_ADDR", vault.url)
    monkeypatch.setenv("VAULT_TOKEN", vault.root_token)
    monkeypatch.setenv("VAULT_KV_MOUNT", "kv1")
    monkeypatch.setenv("VAULT_KV_VERSION", "1")
    with VaultSecretManager() as manager:
        assert manager.config.kv_version == 1
        assert manager.get_secret("alpaca/api_key_id") == "from-v1"
        assert vault.root_token not in repr(manager)
        assert vault.root_token not in repr(manager.config)


def test_kv2_field_types_and_one_segment_keys(vault: Any) -> None:
    vault.put_secret("db", {"port": 5432, "tls": True, "password": "pw"})
    vault.put_secret("api_token", {"value": "whole"})
    with manager_for(vault) as manager:
        assert manager.get_secret("db/port") == "5432"
        assert manager.get_secret("db/tls") == "true"
        assert manager.get_secret("api_token") == "whole"


def test_soft_deleted_secret_is_not_found(vault: Any) -> None:
    vault.put_secret("gone", {"f": "v"})
    vault.delete_secret("gone")
    with manager_for(vault) as manager, pytest.raises(SecretNotFoundError):
        manager.get_secret("gone/f")


def test_token_file(vault: Any, tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(vault.root_token + "\n")
    vault.put_secret("a", {"b": "c"})
    with VaultSecretManager({"address": vault.url, "token_file": str(token_file)}) as manager:
        assert manager.get_secret("a/b") == "c"
    missing = VaultSecretManager({"address": vault.url, "token_file": str(tmp_path / "nope")})
    with pytest.raises(SecretConfigurationError, match="token file"):
        missing.get_secret("a/b")


def test_approle_with_relogin_after_invalid_token(
    vault: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    role_id, secret_id = vault.enable_approle(role="app")
    vault.put_secret("a", {"b": "c"})
    secret_file = tmp_path / "secret_id"
    secret_file.write_text(secret_id)
    monkeypatch.setenv("VAULT_ADDR", vault.url)
    monkeypatch.setenv("VAULT_ROLE_ID", role_id)
    monkeypatch.setenv("VAULT_SECRET_ID_FILE", str(secret_file))
    with VaultSecretManager(ttl_seconds=0) as manager:
        assert manager.get_secret("a/b") == "c"
        first_token = manager._client.token
        vault.revoke_token(first_token)
        assert manager.get_secret("a/b") == "c"  # logged in again once
        assert manager._client.token != first_token


def test_approle_bad_secret_id_is_access_denied(vault: Any) -> None:
    role_id, _ = vault.enable_approle(role="app")
    manager = VaultSecretManager(
        {"address": vault.url, "role_id": role_id, "secret_id": "wrong"}, ttl_seconds=0
    )
    with pytest.raises(SecretAccessDeniedError, match="login") as info:
        manager.get_secret("a/b")
    assert "wrong" not in str(info.value)


def test_a_wrapped_secret_id_needs_the_wrapping_token(vault: Any) -> None:
    with pytest.raises(SecretConfigurationError, match="VAULT_SECRET_ID"):
        VaultSecretManager({"address": vault.url, "role_id": "r", "secret_id_wrapped": "true"})


def test_secret_id_wrapped_must_be_a_flag(vault: Any) -> None:
    config = {"address": vault.url, "role_id": "r", "secret_id": "s", "secret_id_wrapped": "x"}
    with pytest.raises(SecretConfigurationError, match="secret_id_wrapped"):
        VaultSecretManager(config)


def test_kubernetes_auth(vault: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    jwt = tmp_path / "sa-token"
    jwt.write_text("header.payload.signature")
    vault.enable_kubernetes(role="web", jwt="header.payload.signature")
    vault.put_secret("a", {"b": "k8s"})
    monkeypatch.setenv("VAULT_ADDR", vault.url)
    monkeypatch.setenv("VAULT_K8S_ROLE", "web")
    monkeypatch.setenv("VAULT_K8S_TOKEN_FILE", str(jwt))
    with VaultSecretManager() as manager:
        assert manager.get_secret("a/b") == "k8s"


def test_revoked_static_token_is_access_denied(vault: Any) -> None:
    token = vault.create_token()
    vault.put_secret("a", {"b": "c"})
    manager = VaultSecretManager({"address": vault.url, "token": token}, ttl_seconds=0)
    assert manager.get_secret("a/b") == "c"
    vault.revoke_token(token)
    with pytest.raises(SecretAccessDeniedError, match="invalid token") as info:
        manager.get_secret("a/b")
    assert token not in str(info.value)
    assert type(info.value.__cause__).__module__.startswith("hvac")


def test_denied_path(vault: Any) -> None:
    vault.put_secret("private", {"k": "v"})
    vault.deny("secret/data/private")
    with manager_for(vault) as manager, pytest.raises(SecretAccessDeniedError):
        manager.get_secret("private/k")


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_server_errors_are_unavailable(vault: Any, status: int, timer: FakeTimer) -> None:
    vault.put_secret("a", {"b": "c"})
    vault.fail_next(1, status=status)
    settings = {"address": vault.url, "token": vault.root_token, "timeout": 2}
    with VaultSecretManager(settings, ttl_seconds=0, timer=timer) as manager:
        with pytest.raises(SecretBackendUnavailableError):
            manager.get_secret("a/b")
        timer.advance(FIRST_WINDOW_SECONDS)  # the outage memory asks the backend again
        assert manager.get_secret("a/b") == "c"


def test_sealed_is_unavailable(vault: Any) -> None:
    vault.seal()
    with manager_for(vault) as manager, pytest.raises(SecretBackendUnavailableError):
        manager.get_secret("a/b")


def test_timeout_is_unavailable(vault: Any) -> None:
    vault.hang(True)
    try:
        manager = manager_for(vault, timeout=0.3)
        with pytest.raises(SecretBackendUnavailableError) as info:
            manager.get_secret("a/b")
        assert "Timeout" in str(info.value) or "Timeout" in type(info.value.__cause__).__name__
    finally:
        vault.hang(False)


def test_dropped_connection_and_refused_are_unavailable(vault: Any) -> None:
    vault.put_secret("a", {"b": "c"})
    manager = manager_for(vault)
    vault.drop_next(1)
    with pytest.raises(SecretBackendUnavailableError):
        manager.get_secret("a/b")
    url = vault.url
    vault.stop()
    refused = VaultSecretManager({"address": url, "token": "t"}, ttl_seconds=0)
    with pytest.raises(SecretBackendUnavailableError) as info:
        refused.get_secret("a/b")
    assert type(info.value.__cause__).__module__.startswith("requests")


def test_one_session_without_environment_lookups(
    vault: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    vault.put_secret("a", {"b": "c", "d": "e"})
    with manager_for(vault) as manager:
        manager.get_secret("a/b")
        session = manager._client.adapter.session
        manager.get_secret("a/d")
        assert manager._client.adapter.session is session
        assert session.trust_env is False
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.invalid:3128")
    with manager_for(vault) as proxied:
        assert proxied._trust_env is True


def test_injected_client(vault: Any) -> None:
    import hvac

    vault.put_secret("a", {"b": "injected"})
    client = hvac.Client(url=vault.url, token=vault.root_token)
    with VaultSecretManager(client=client) as manager:
        assert manager.get_secret("a/b") == "injected"
        assert manager._client is client


def test_url_alias_and_configuration_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    manager = VaultSecretManager({"url": "http://127.0.0.1:1", "token": "t"})
    assert manager.config.address == "http://127.0.0.1:1"
    with pytest.raises(SecretConfigurationError, match="VAULT_ADDR"):
        VaultSecretManager({"token": "t"})
    with pytest.raises(SecretConfigurationError, match="no Vault credentials"):
        VaultSecretManager({"address": "http://127.0.0.1:1"})
    with pytest.raises(SecretConfigurationError, match="kv_version"):
        VaultSecretManager({"address": "http://x", "token": "t", "kv_version": 3})
    with pytest.raises(SecretConfigurationError) as info:
        VaultSecretManager({"address": "http://x", "token": "t", "timeout": "soon", "kv": 1})
    assert "timeout: invalid value 'soon'" in str(info.value)  # every problem at once
    assert "kv: unknown setting" in str(info.value)


def test_missing_hvac_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "hvac", None)
    manager = VaultSecretManager({"address": "http://127.0.0.1:1", "token": "t"})
    with pytest.raises(SecretConfigurationError, match=r"tmpfs-secrets\[vault\]"):
        manager.get_secret("a/b")
