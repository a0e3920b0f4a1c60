"""AppRole and Kubernetes auth: role management over HTTP, logins, and their errors."""

from __future__ import annotations

import base64
import json

import hvac
import hvac.exceptions
import pytest
from secrets_agent.devserver import VaultDevServer


def _jwt(claims: dict[str, object]) -> str:
    def part(obj: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

    return f"{part({'alg': 'RS256'})}.{part(claims)}.c2lnbmF0dXJl"


def test_approle_login_from_python_setup(vault: VaultDevServer) -> None:
    vault.put_secret("app", {"k": "v"})
    role_id, secret_id = vault.enable_approle("agent", paths=["secret/data/app"], token_ttl=120)
    client = hvac.Client(url=vault.url)
    resp = client.auth.approle.login(role_id=role_id, secret_id=secret_id)
    assert resp["mount_type"] == "" and resp["data"] is None
    auth = resp["auth"]
    assert auth["metadata"] == {"role_name": "agent"} and auth["orphan"] is True
    assert auth["lease_duration"] in (119, 120) and auth["token_type"] == "service"
    assert client.token == auth["client_token"]
    assert client.secrets.kv.v2.read_secret_version("app", raise_on_deleted_version=True)
    with pytest.raises(hvac.exceptions.Forbidden):
        client.secrets.kv.v2.read_secret_version("elsewhere", raise_on_deleted_version=True)


def test_approle_setup_over_http(vault: VaultDevServer) -> None:
    root = hvac.Client(url=vault.url, token=vault.root_token)
    root.sys.enable_auth_method("approle")
    root.auth.approle.create_or_update_approle("web", token_policies=["app"], token_ttl="1h")
    role_id = root.auth.approle.read_role_id("web")["data"]["role_id"]
    generated = root.auth.approle.generate_secret_id("web")
    assert generated["mount_type"] == "approle"
    secret_id = generated["data"]["secret_id"]
    auth = hvac.Client(url=vault.url).auth.approle.login(role_id=role_id, secret_id=secret_id)
    assert auth["auth"]["policies"] == ["app", "default"]
    assert auth["auth"]["lease_duration"] in (3599, 3600)


def test_enable_auth_twice_is_invalid_request(vault: VaultDevServer) -> None:
    root = hvac.Client(url=vault.url, token=vault.root_token)
    root.sys.enable_auth_method("approle")
    with pytest.raises(hvac.exceptions.InvalidRequest) as info:
        root.sys.enable_auth_method("approle")
    assert info.value.errors == ["path is already in use at approle/"]


def test_approle_wrong_secret_id(vault: VaultDevServer) -> None:
    role_id, _ = vault.enable_approle("agent")
    with pytest.raises(hvac.exceptions.InvalidRequest) as info:
        hvac.Client(url=vault.url).auth.approle.login(role_id=role_id, secret_id="wrong")
    assert info.value.errors == ["invalid role or secret ID"]


def test_approle_unknown_role_id(vault: VaultDevServer) -> None:
    vault.enable_approle("agent")
    with pytest.raises(hvac.exceptions.InvalidRequest) as info:
        hvac.Client(url=vault.url).auth.approle.login(role_id="nope", secret_id="x")
    assert info.value.errors == ["invalid role or secret ID"]


def test_approle_missing_secret_id(vault: VaultDevServer) -> None:
    role_id, _ = vault.enable_approle("agent")
    with pytest.raises(hvac.exceptions.InvalidRequest) as info:
        hvac.Client(url=vault.url).auth.approle.login(role_id=role_id)
    assert info.value.errors == ["missing secret_id"]


def test_approle_revoked_and_new_secret_id(vault: VaultDevServer) -> None:
    role_id, secret_id = vault.enable_approle("agent")
    fresh = vault.new_secret_id("agent")
    vault.revoke_secret_id("agent", secret_id)
    client = hvac.Client(url=vault.url)
    with pytest.raises(hvac.exceptions.InvalidRequest):
        client.auth.approle.login(role_id=role_id, secret_id=secret_id)
    assert client.auth.approle.login(role_id=role_id, secret_id=fresh)["auth"]["client_token"]


def test_login_without_auth_method_is_permission_denied(vault: VaultDevServer) -> None:
    with pytest.raises(hvac.exceptions.Forbidden):
        hvac.Client(url=vault.url).auth.approle.login(role_id="r", secret_id="s")


def test_approle_token_expires(vault: VaultDevServer) -> None:
    role_id, secret_id = vault.enable_approle("agent", token_ttl=0.3)
    client = hvac.Client(url=vault.url)
    client.auth.approle.login(role_id=role_id, secret_id=secret_id)
    assert client.is_authenticated()
    import time

    time.sleep(0.4)
    assert client.is_authenticated() is False


def test_kubernetes_login(vault: VaultDevServer) -> None:
    jwt = _jwt(
        {"kubernetes.io": {"namespace": "shop", "serviceaccount": {"name": "web", "uid": "u-1"}}}
    )
    vault.enable_kubernetes(role="app", jwt=jwt, token_ttl=300)
    client = hvac.Client(url=vault.url)
    resp = client.auth.kubernetes.login("app", jwt)
    assert resp["mount_type"] == ""
    assert resp["auth"]["metadata"] == {
        "role": "app",
        "service_account_name": "web",
        "service_account_namespace": "shop",
        "service_account_secret_name": "",
        "service_account_uid": "u-1",
    }
    assert client.auth.token.lookup_self()["data"]["display_name"] == "kubernetes-shop-web"


def test_kubernetes_wrong_jwt_is_forbidden(vault: VaultDevServer) -> None:
    vault.enable_kubernetes(role="app", jwt=_jwt({"sub": "a"}))
    with pytest.raises(hvac.exceptions.Forbidden) as info:
        hvac.Client(url=vault.url).auth.kubernetes.login("app", _jwt({"sub": "b"}))
    assert info.value.errors == ["permission denied"]


def test_kubernetes_unknown_role(vault: VaultDevServer) -> None:
    vault.enable_kubernetes(role="app", jwt=_jwt({"sub": "a"}))
    with pytest.raises(hvac.exceptions.InvalidRequest) as info:
        hvac.Client(url=vault.url).auth.kubernetes.login("nope", _jwt({"sub": "a"}))
    assert info.value.errors == ['invalid role name "nope"']


def test_kubernetes_missing_jwt(vault: VaultDevServer) -> None:
    vault.enable_kubernetes(role="app", jwt=_jwt({"sub": "a"}))
    with pytest.raises(hvac.exceptions.InvalidRequest) as info:
        hvac.Client(url=vault.url).auth.kubernetes.login("app", "")
    assert info.value.errors == ["missing jwt"]


def test_kubernetes_configured_opaque_jwt_is_accepted(vault: VaultDevServer) -> None:
    vault.enable_kubernetes(
        role="app", jwt="opaque-service-account-token", paths=["secret/data/k8s/"]
    )
    client = hvac.Client(url=vault.url)
    auth = client.auth.kubernetes.login("app", "opaque-service-account-token")["auth"]
    assert auth["metadata"]["service_account_namespace"] == "default"
    with pytest.raises(hvac.exceptions.Forbidden):
        client.secrets.kv.v2.read_secret_version("other", raise_on_deleted_version=True)
