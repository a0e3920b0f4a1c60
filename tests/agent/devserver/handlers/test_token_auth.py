"""Token auth: lookup-self, renew-self, create, revoke-self, expiry, policies, denials."""

from __future__ import annotations

import time

import hvac
import hvac.exceptions
import pytest
import requests
from secrets_agent.devserver import VaultDevServer

INVALID_TOKEN = "2 errors occurred:\n\t* permission denied\n\t* invalid token\n\n"
DENIED = "1 error occurred:\n\t* permission denied\n\n"


def test_root_token_lookup_self(vault: VaultDevServer) -> None:
    data = hvac.Client(url=vault.url, token=vault.root_token).auth.token.lookup_self()["data"]
    assert data["id"] == vault.root_token and data["policies"] == ["root"]
    assert data["expire_time"] is None and data["ttl"] == 0 and data["path"] == "auth/token/root"
    assert isinstance(data["creation_time"], int) and data["type"] == "service"


def test_explicit_root_token() -> None:
    with VaultDevServer(root_token="dev-root") as vault:
        assert vault.root_token == "dev-root"
        assert hvac.Client(url=vault.url, token="dev-root").is_authenticated()


def test_created_token_with_ttl_and_policies(vault: VaultDevServer) -> None:
    token = vault.create_token(policies=["app"], ttl=600)
    data = hvac.Client(url=vault.url, token=token).auth.token.lookup_self()["data"]
    assert data["policies"] == ["app", "default"] and 595 <= data["ttl"] <= 600
    assert data["expire_time"].endswith("Z") and data["renewable"] is True


def test_renew_self_returns_auth_block(vault: VaultDevServer) -> None:
    client = hvac.Client(url=vault.url, token=vault.create_token(ttl=60))
    resp = client.auth.token.renew_self(increment="1h")
    assert resp["data"] is None and resp["auth"]["client_token"] == client.token
    assert resp["auth"]["lease_duration"] in (3599, 3600) and resp["auth"]["renewable"] is True
    assert "last_renewal_time" in client.auth.token.lookup_self()["data"]


def test_renew_non_renewable_is_invalid_request(vault: VaultDevServer) -> None:
    client = hvac.Client(url=vault.url, token=vault.create_token(ttl=60, renewable=False))
    with pytest.raises(hvac.exceptions.InvalidRequest) as info:
        client.auth.token.renew_self()
    assert info.value.errors == ["lease is not renewable"]


def test_create_token_over_http(vault: VaultDevServer) -> None:
    root = hvac.Client(url=vault.url, token=vault.root_token)
    auth = root.auth.token.create(policies=["app"], ttl="30m")["auth"]
    assert auth["policies"] == ["app", "default"] and auth["lease_duration"] in (1799, 1800)
    child = hvac.Client(url=vault.url, token=auth["client_token"])
    assert child.auth.token.lookup_self()["data"]["path"] == "auth/token/create"


def test_revoke_self_then_invalid_token(vault: VaultDevServer) -> None:
    client = hvac.Client(url=vault.url, token=vault.create_token())
    assert client.auth.token.revoke_self().status_code == 204
    with pytest.raises(hvac.exceptions.Forbidden) as info:
        client.auth.token.lookup_self()
    assert info.value.errors == [INVALID_TOKEN]
    assert client.is_authenticated() is False


def test_expired_token_is_forbidden_invalid_token(vault: VaultDevServer) -> None:
    vault.put_secret("app", {"k": "v"})
    client = hvac.Client(url=vault.url, token=vault.create_token(ttl=0.3))
    client.secrets.kv.v2.read_secret_version("app", raise_on_deleted_version=True)
    time.sleep(0.4)
    with pytest.raises(hvac.exceptions.Forbidden) as info:
        client.secrets.kv.v2.read_secret_version("app", raise_on_deleted_version=True)
    assert info.value.errors == [INVALID_TOKEN]


def test_revoked_token_via_python_api(vault: VaultDevServer) -> None:
    token = vault.create_token()
    vault.revoke_token(token)
    assert hvac.Client(url=vault.url, token=token).is_authenticated() is False


def test_missing_token_is_a_bare_permission_denied(vault: VaultDevServer) -> None:
    """No token (and a login where nothing is mounted): no multi-error wrapper, as in Vault
    1.10+ and OpenBao; a valid token outside its policy gets the wrapped text."""
    resp = requests.get(f"{vault.url}/v1/secret/data/app", timeout=5)
    assert resp.status_code == 403 and resp.json() == {"errors": ["permission denied"]}
    resp = requests.post(f"{vault.url}/v1/auth/nomount/login", json={"role_id": "x"}, timeout=5)
    assert resp.status_code == 403 and resp.json() == {"errors": ["permission denied"]}
    narrow = vault.create_token(paths=["secret/data/other"])
    resp = requests.get(f"{vault.url}/v1/secret/data/app", headers={"X-Vault-Token": narrow},
                        timeout=5)  # fmt: skip
    assert resp.status_code == 403 and resp.json() == {"errors": [DENIED]}


def test_bearer_header_is_accepted(vault: VaultDevServer) -> None:
    headers = {"Authorization": f"Bearer {vault.root_token}"}
    resp = requests.get(f"{vault.url}/v1/auth/token/lookup-self", headers=headers, timeout=5)
    assert resp.status_code == 200


def test_paths_restrict_token(vault: VaultDevServer) -> None:
    vault.put_secret("app/db", {"k": "v"})
    vault.put_secret("other", {"k": "v"})
    client = hvac.Client(url=vault.url, token=vault.create_token(paths=["secret/data/app/*"]))
    assert client.secrets.kv.v2.read_secret_version("app/db", raise_on_deleted_version=True)
    with pytest.raises(hvac.exceptions.Forbidden) as info:
        client.secrets.kv.v2.read_secret_version("other", raise_on_deleted_version=True)
    assert info.value.errors == [DENIED]
    assert client.is_authenticated()  # lookup-self is always allowed


def test_deny_prefix_for_all_tokens(vault: VaultDevServer) -> None:
    vault.put_secret("app", {"k": "v"})
    vault.deny("secret/data/app")
    client = hvac.Client(url=vault.url, token=vault.root_token)
    with pytest.raises(hvac.exceptions.Forbidden) as info:
        client.secrets.kv.v2.read_secret_version("app", raise_on_deleted_version=True)
    assert info.value.errors == [DENIED]


def test_deny_prefix_for_one_token(vault: VaultDevServer) -> None:
    vault.put_secret("app", {"k": "v"})
    token = vault.create_token()
    vault.deny("secret/", token=token)
    with pytest.raises(hvac.exceptions.Forbidden):
        hvac.Client(url=vault.url, token=token).secrets.kv.v2.read_secret_version(
            "app", raise_on_deleted_version=True
        )
    root = hvac.Client(url=vault.url, token=vault.root_token)
    assert root.secrets.kv.v2.read_secret_version("app", raise_on_deleted_version=True)
