"""The Vault source against the dev server over real HTTP: auth methods, KV v1/v2, errors."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from secrets_agent.config.load import AuthConfig, VaultBackendConfig
from secrets_agent.sources import create_source
from secrets_agent.sources.base import MAX_SECRET_BYTES
from secrets_agent.sources.result import (
    AccessDeniedError,
    AuthenticationError,
    BackendUnavailableError,
    InvalidResponseError,
    SecretData,
    SecretMissingError,
)
from secrets_agent.sources.vault.source import VaultSource


def _source(vault: Any, auth: AuthConfig, **kw: Any) -> VaultSource:
    config = VaultBackendConfig(address=vault.url, auth=auth, timeout=2.0, **kw)
    source = create_source(config, concurrency=4)
    assert isinstance(source, VaultSource)
    return source


def _token(vault: Any) -> AuthConfig:
    return AuthConfig(method="token", token=vault.root_token)


def test_reads_kv_v2_with_fields_raw_and_version(vault: Any, canary: str) -> None:
    vault.put_secret("app/db", {"user": "app", "password": canary, "port": 5432})
    version = vault.put_secret("app/db", {"user": "app", "password": canary, "port": 5432})
    with_source = _source(vault, _token(vault))
    result = with_source.fetch_many(["app/db"])["app/db"]
    assert isinstance(result, SecretData)
    assert result.fields == {"user": "app", "password": canary, "port": "5432"}
    assert result.version == str(version) == "2"
    assert '"port":5432' in str(result.raw)  # raw keeps the JSON types
    assert canary not in repr(result)
    with_source.close()


def test_reads_kv_v1(vault: Any) -> None:
    vault.enable_kv(mount="kv1", version=1)
    vault.put_secret("legacy", {"k": "v"}, mount="kv1")
    source = _source(vault, _token(vault), kv_mount="kv1", kv_version=1)
    result = source.fetch_many(["legacy"])["legacy"]
    assert isinstance(result, SecretData)
    assert result.fields == {"k": "v"}
    assert result.version is None


def test_missing_and_deleted_secrets_are_missing(vault: Any) -> None:
    vault.put_secret("gone", {"a": "b"})
    vault.delete_secret("gone")
    source = _source(vault, _token(vault))
    results = source.fetch_many(["gone", "never"])
    assert isinstance(results["gone"], SecretMissingError)
    assert isinstance(results["never"], SecretMissingError)
    assert results["never"].path == "never"


def test_one_session_is_reused_across_reads(vault: Any) -> None:
    for i in range(6):
        vault.put_secret(f"s{i}", {"v": str(i)})
    source = _source(vault, _token(vault))
    results = source.fetch_many([f"s{i}" for i in range(6)] + ["s0"])
    assert sorted(results) == [f"s{i}" for i in range(6)]  # duplicates fetched once
    assert all(isinstance(r, SecretData) for r in results.values())
    assert (pool := source.pool()) is not None and pool.opened <= 4  # at most one per worker
    # hvac's client (built when first needed) has one session that ignores ~/.netrc & co.
    session = source._client.hvac().adapter.session
    assert session is source._session and session.trust_env is False
    source.close()


def test_token_file_is_read_at_login(vault: Any, tmp_path: Path) -> None:
    vault.put_secret("x", {"a": "1"})
    token_file = tmp_path / "token"
    token_file.write_text(vault.create_token(paths=["secret/data/x"]) + "\n")
    source = _source(vault, AuthConfig(method="token", token_file=token_file))
    assert isinstance(source.fetch_many(["x"])["x"], SecretData)


def test_unreadable_token_file_is_an_authentication_error(vault: Any, tmp_path: Path) -> None:
    source = _source(vault, AuthConfig(method="token", token_file=tmp_path / "absent"))
    result = source.fetch_many(["x"])["x"]
    assert isinstance(result, AuthenticationError)
    assert "absent" in str(result)


def test_approle_login_and_relogin_after_revocation(vault: Any, tmp_path: Path) -> None:
    vault.put_secret("app/a", {"k": "v1"})
    role_id, secret_id = vault.enable_approle(role="agent", paths=["secret/data/app/*"])
    sid_file = tmp_path / "secret_id"
    sid_file.write_text(secret_id)
    source = _source(vault, AuthConfig(method="approle", role_id=role_id, secret_id_file=sid_file))
    assert isinstance(source.fetch_many(["app/a"])["app/a"], SecretData)
    first = source.auth.token
    vault.revoke_token(first)  # next read gets 403 "invalid token" -> login again
    result = source.fetch_many(["app/a"])["app/a"]
    assert isinstance(result, SecretData)
    assert source.auth.token != first


def test_approle_with_a_bad_secret_id_is_an_authentication_error(vault: Any) -> None:
    role_id, _ = vault.enable_approle(role="agent")
    source = _source(vault, AuthConfig(method="approle", role_id=role_id, secret_id="wrong"))
    assert isinstance(source.fetch_many(["a"])["a"], AuthenticationError)


def test_kubernetes_login_reads_the_jwt_file(vault: Any, tmp_path: Path) -> None:
    vault.put_secret("k8s/app", {"k": "v"})
    vault.enable_kubernetes(role="app", jwt="header.payload.sig", paths=["secret/data/k8s/*"])
    jwt_file = tmp_path / "jwt"
    jwt_file.write_text("header.payload.sig")
    source = _source(vault, AuthConfig(method="kubernetes", role="app", jwt_file=jwt_file))
    assert isinstance(source.fetch_many(["k8s/app"])["k8s/app"], SecretData)


def test_permission_denied_is_access_denied(vault: Any) -> None:
    vault.put_secret("private", {"k": "v"})
    token = vault.create_token(paths=["secret/data/public/*"])
    source = _source(vault, AuthConfig(method="token", token=token))
    result = source.fetch_many(["private"])["private"]
    assert isinstance(result, AccessDeniedError)
    assert "permission denied" in str(result)


def test_sealed_and_down_are_unavailable(vault: Any) -> None:
    vault.put_secret("x", {"k": "v"})
    source = _source(vault, _token(vault))
    assert isinstance(source.fetch_many(["x"])["x"], SecretData)
    vault.seal()
    sealed = source.fetch_many(["x"])["x"]
    assert isinstance(sealed, BackendUnavailableError)
    vault.unseal()
    assert isinstance(source.fetch_many(["x"])["x"], SecretData)
    vault.fail_next(1, status=500)
    assert isinstance(source.fetch_many(["x"])["x"], BackendUnavailableError)


def test_connection_refused_is_unavailable() -> None:
    config = VaultBackendConfig(
        address="http://127.0.0.1:9", auth=AuthConfig(method="token", token="t"), timeout=1.0
    )
    result = create_source(config).fetch_many(["x"])["x"]
    assert isinstance(result, BackendUnavailableError)


def test_rate_limit_carries_retry_after(vault: Any) -> None:
    vault.put_secret("x", {"k": "v"})
    source = _source(vault, _token(vault))
    assert isinstance(source.fetch_many(["x"])["x"], SecretData)  # logged in
    vault.fail_next(1, status=429, retry_after=7)
    result = source.fetch_many(["x"])["x"]
    assert isinstance(result, BackendUnavailableError)
    assert result.retry_after == 7.0


def test_token_is_renewed_before_expiry(vault: Any) -> None:
    vault.put_secret("x", {"k": "v"})
    token = vault.create_token(paths=["secret/data/x"], ttl=3, renewable=True)
    source = _source(vault, AuthConfig(method="token", token=token))
    assert isinstance(source.fetch_many(["x"])["x"], SecretData)
    due = source.auth.seconds_until_due()
    assert due is not None and due <= 2.5
    vault.reset_counters()
    source.auth.keeper._renew_at = 0.0  # as if two thirds of the TTL had passed
    assert source.maintain() is not None
    assert ("POST", "/v1/auth/token/renew-self") in vault.requests
    assert source.auth.token == token


def _fake_client(read: Any) -> Any:
    kv = SimpleNamespace(v2=SimpleNamespace(read_secret_version=read))
    token_api = SimpleNamespace(lookup_self=lambda: {"data": {"ttl": 0}})
    return SimpleNamespace(
        token="", secrets=SimpleNamespace(kv=kv), auth=SimpleNamespace(token=token_api)
    )


@pytest.mark.parametrize(
    "body",
    [
        {"data": {"data": ["not", "an", "object"], "metadata": {"version": 1}}},
        {"data": {"data": {"k": "v"}, "metadata": {"version": "1"}}},
        {"data": "nope"},
        "not json at all",
        {"data": {"data": {"k": "x" * (MAX_SECRET_BYTES + 1)}, "metadata": {"version": 1}}},
    ],
)
def test_malformed_responses_are_invalid_for_that_secret_only(body: Any) -> None:
    config = VaultBackendConfig(address="http://127.0.0.1:9", auth=AuthConfig("token", token="t"))

    def read(path: str, **kw: Any) -> Any:
        return body if path == "bad" else {"data": {"data": {"k": "v"}, "metadata": {"version": 3}}}

    source = VaultSource(config, client=_fake_client(read))
    results = source.fetch_many(["bad", "good"])
    assert isinstance(results["bad"], InvalidResponseError)
    assert isinstance(results["good"], SecretData) and results["good"].version == "3"


def test_values_never_reach_the_logs(
    vault: Any, canary: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    vault.put_secret("x", {"k": canary})
    source = _source(vault, _token(vault))
    source.fetch_many(["x"])
    vault.fail_next(1, status=500)
    errors = source.fetch_many(["x"])
    assert canary not in caplog.text
    assert canary not in str(errors["x"])


def test_kv_reads_share_a_few_keep_alive_connections(vault: Any) -> None:
    for i in range(40):
        vault.put_secret(f"k/{i}", {"v": str(i)})
    source = _source(vault, _token(vault))
    pool = source.pool()
    assert pool is not None
    vault.reset_counters()
    results = source.fetch_many([f"k/{i}" for i in range(40)])
    assert all(isinstance(r, SecretData) for r in results.values())
    assert results["k/7"].fields == {"v": "7"}  # type: ignore[union-attr]
    assert ("GET", "/v1/secret/data/k/7") in vault.requests
    assert 1 <= pool.opened <= 4  # concurrency 4: one connection per worker at most
    source.fetch_many([f"k/{i}" for i in range(40)])
    assert pool.opened <= 4  # reused by the next sync


def test_a_dropped_keep_alive_connection_is_retried_once(vault: Any) -> None:
    vault.put_secret("x", {"k": "v"})
    source = _source(vault, _token(vault))
    assert isinstance(source.fetch_many(["x"])["x"], SecretData)
    vault.drop_next(1)
    assert isinstance(source.fetch_many(["x"])["x"], SecretData)
    vault.drop_next(2)
    assert isinstance(source.fetch_many(["x"])["x"], BackendUnavailableError)
    assert isinstance(source.fetch_many(["x"])["x"], SecretData)


def test_a_hung_server_times_out_as_unavailable(vault: Any) -> None:
    vault.put_secret("x", {"k": "v"})
    config = VaultBackendConfig(address=vault.url, auth=_token(vault), timeout=0.5)
    source = create_source(config, concurrency=2)
    assert isinstance(source.fetch_many(["x"])["x"], SecretData)
    vault.hang(True)
    try:
        result = source.fetch_many(["x"])["x"]
    finally:
        vault.hang(False)
    assert isinstance(result, BackendUnavailableError)
    assert "timed out" in str(result)
    assert isinstance(source.fetch_many(["x"])["x"], SecretData)


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_are_unavailable(vault: Any, status: int) -> None:
    vault.put_secret("x", {"k": "v"})
    source = _source(vault, _token(vault))
    assert isinstance(source.fetch_many(["x"])["x"], SecretData)
    vault.fail_next(1, status=status)
    result = source.fetch_many(["x"])["x"]
    assert isinstance(result, BackendUnavailableError)
    assert result.path == "x"


def test_an_expired_token_is_replaced_by_a_new_login(vault: Any, tmp_path: Path) -> None:
    vault.put_secret("app/a", {"k": "v"})
    role_id, secret_id = vault.enable_approle(
        role="agent", paths=["secret/data/app/*"], token_ttl=1
    )
    source = _source(vault, AuthConfig(method="approle", role_id=role_id, secret_id=secret_id))
    assert isinstance(source.fetch_many(["app/a"])["app/a"], SecretData)
    first = source.auth.token
    source.auth.keeper._renew_at = None  # no renewal: the read itself meets the expired token
    time.sleep(1.2)
    assert isinstance(source.fetch_many(["app/a"])["app/a"], SecretData)
    assert source.auth.token != first


def test_close_closes_the_kv_connections(vault: Any) -> None:
    vault.put_secret("x", {"k": "v"})
    source = _source(vault, _token(vault))
    assert isinstance(source.fetch_many(["x"])["x"], SecretData)
    source.close()
    pool = source.pool()
    assert pool is not None and pool._idle == []
    assert isinstance(source.fetch_many(["x"])["x"], BackendUnavailableError)
