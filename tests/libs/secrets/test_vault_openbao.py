"""The Vault backend against a real OpenBao server: the token's whole lifecycle."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from libs.secrets import SecretAccessDeniedError, VaultSecretManager


def test_reads_and_nested_values(openbao: Any) -> None:
    openbao.put_secret("reader/nested", {"cfg": {"städt": "ü"}, "n": 1})
    with VaultSecretManager({"address": openbao.url, "token": openbao.root_token}) as manager:
        assert manager.get_secret("reader/nested/cfg") == '{"städt":"ü"}'
        assert manager.get_secret("reader/nested/n") == "1"


def test_a_revoked_approle_token_is_replaced_by_a_new_login(openbao: Any) -> None:
    """OpenBao answers a revoked token with a bare 403 "permission denied"."""
    openbao.put_secret("reader/revoked", {"k": "v"})
    policy = openbao.policy("reader-revoked", "secret/data/reader/revoked")
    role_id, secret_id = openbao.enable_approle("approle", "reader-revoked", policy)
    config = {"address": openbao.url, "role_id": role_id, "secret_id": secret_id}
    with VaultSecretManager(config, ttl_seconds=0) as manager:
        assert manager.get_secret("reader/revoked/k") == "v"
        first = manager._client.token
        openbao.revoke_token(first)
        assert manager.get_secret("reader/revoked/k") == "v"
        assert manager._client.token != first


def test_the_reader_renews_its_token(openbao: Any) -> None:
    openbao.put_secret("reader/renew", {"k": "v"})
    policy = openbao.policy("reader-renew", "secret/data/reader/renew")
    role_id, secret_id = openbao.enable_approle(
        "approle", "reader-renew", policy, token_ttl="4s", token_max_ttl="1m"
    )
    config = {"address": openbao.url, "role_id": role_id, "secret_id": secret_id}
    with VaultSecretManager(config, ttl_seconds=0) as manager:
        assert manager.get_secret("reader/renew/k") == "v"
        token = manager._client.token
        # A read every 0.25 s for 4.5 s: past the 4 s TTL the token started with; the read
        # after 2/3 of it renews the token with more than a second to spare.
        for _ in range(18):
            time.sleep(0.25)
            assert manager.get_secret("reader/renew/k") == "v"
        assert manager._client.token == token  # renewed, not replaced
        ttl = openbao.client().auth.token.lookup(token)["data"]["ttl"]
        assert 0 < ttl <= 4


def test_a_token_that_may_not_look_itself_up_is_accepted(openbao: Any) -> None:
    openbao.put_secret("reader/nolookup", {"k": "v"})
    policy = openbao.policy("reader-nolookup", "secret/data/reader/nolookup")
    token = openbao.create_token(policy, no_default_policy=True)
    with VaultSecretManager({"address": openbao.url, "token": token}) as manager:
        assert manager.get_secret("reader/nolookup/k") == "v"


def test_a_rotated_token_file_is_read_after_a_refusal(openbao: Any, tmp_path: Path) -> None:
    openbao.put_secret("reader/file", {"k": "v"})
    policy = openbao.policy("reader-file", "secret/data/reader/file")
    token_file = tmp_path / "token"
    old = openbao.create_token(policy)
    token_file.write_text(old + "\n")
    config = {"address": openbao.url, "token_file": str(token_file)}
    with VaultSecretManager(config, ttl_seconds=0) as manager:
        assert manager.get_secret("reader/file/k") == "v"
        openbao.revoke_token(old)
        token_file.write_text(openbao.create_token(policy) + "\n")  # what systemd would do
        assert manager.get_secret("reader/file/k") == "v"


def test_a_static_token_denied_a_path_stays_denied(openbao: Any) -> None:
    openbao.put_secret("reader/private", {"k": "v"})
    token = openbao.create_token(openbao.policy("reader-none", "secret/data/reader/other"))
    with (
        VaultSecretManager({"address": openbao.url, "token": token}) as manager,
        pytest.raises(SecretAccessDeniedError, match="permission denied"),
    ):
        manager.get_secret("reader/private/k")


def test_auth_mount_written_with_its_auth_prefix(openbao: Any) -> None:
    openbao.put_secret("reader/mount", {"k": "v"})
    policy = openbao.policy("reader-mount", "secret/data/reader/mount")
    role_id, secret_id = openbao.enable_approle("approle-x", "reader-mount", policy)
    config = {
        "address": openbao.url,
        "role_id": role_id,
        "secret_id": secret_id,
        "approle_mount": "auth/approle-x",
    }
    with VaultSecretManager(config) as manager:
        assert manager.get_secret("reader/mount/k") == "v"


def test_a_login_failure_carries_the_servers_reason(openbao: Any) -> None:
    role_id, _ = openbao.enable_approle("approle", "reader-bad", "default")
    config = {"address": openbao.url, "role_id": role_id, "secret_id": "wrong"}
    with VaultSecretManager(config) as manager, pytest.raises(SecretAccessDeniedError) as info:
        manager.get_secret("reader/x/k")
    assert "invalid" in str(info.value) and "secret" in str(info.value).lower()
    assert "wrong" not in str(info.value)


def test_a_wrapped_secret_id_from_the_environment(
    openbao: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    openbao.put_secret("reader/wrapped", {"k": "v"})
    policy = openbao.policy("reader-wrapped", "secret/data/reader/wrapped")
    role_id, _ = openbao.enable_approle("approle", "reader-wrapped", policy)
    wrapping_file = tmp_path / "secret_id"
    wrapping_file.write_text(openbao.wrapped_secret_id("approle", "reader-wrapped"))
    monkeypatch.setenv("VAULT_ADDR", openbao.url)
    monkeypatch.setenv("VAULT_ROLE_ID", role_id)
    monkeypatch.setenv("VAULT_SECRET_ID_FILE", str(wrapping_file))
    monkeypatch.setenv("VAULT_SECRET_ID_WRAPPED", "true")
    with VaultSecretManager(ttl_seconds=0) as manager:
        assert manager.get_secret("reader/wrapped/k") == "v"
        first = manager._client.token
        openbao.revoke_token(first)  # the re-login uses the secret_id kept in memory
        assert manager.get_secret("reader/wrapped/k") == "v"
        assert manager._client.token != first


def test_a_role_without_bound_secret_id_needs_only_vault_role_id(
    openbao: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    openbao.put_secret("reader/roleonly", {"k": "v"})
    policy = openbao.policy("reader-roleonly", "secret/data/reader/roleonly")
    role_id, _ = openbao.enable_approle(
        "approle", "reader-roleonly", policy, bind_secret_id=False,
        token_bound_cidrs=["127.0.0.1/32"],
    )  # fmt: skip
    monkeypatch.setenv("VAULT_ADDR", openbao.url)
    monkeypatch.setenv("VAULT_ROLE_ID", role_id)
    with VaultSecretManager(ttl_seconds=0) as manager:
        assert manager.get_secret("reader/roleonly/k") == "v"


def test_a_role_that_needs_a_secret_id_says_so(openbao: Any) -> None:
    role_id, _ = openbao.enable_approle("approle", "reader-needs", "default")
    with (
        VaultSecretManager({"address": openbao.url, "role_id": role_id}) as manager,
        pytest.raises(SecretAccessDeniedError, match="secret_id"),
    ):
        manager.get_secret("reader/x/k")
