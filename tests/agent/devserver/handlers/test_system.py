"""sys/health, sys/seal-status, seal/unseal, and the sealed server's 503 answers."""

from __future__ import annotations

import hvac
import hvac.exceptions
import pytest
import requests
from secrets_agent.devserver import VaultDevServer


def test_health_active_get_body(vault: VaultDevServer) -> None:
    body = hvac.Client(url=vault.url).sys.read_health_status(method="GET")
    assert isinstance(body, dict)
    assert body["initialized"] is True and body["sealed"] is False and body["standby"] is False
    assert body["replication_dr_mode"] == "disabled" and isinstance(body["server_time_utc"], int)
    assert "cluster_id" in body


def test_health_head_returns_status_only(vault: VaultDevServer) -> None:
    resp = hvac.Client(url=vault.url).sys.read_health_status()
    assert resp.status_code == 200 and resp.content == b""
    vault.seal()
    assert hvac.Client(url=vault.url).sys.read_health_status().status_code == 503


def test_health_sealed_get(vault: VaultDevServer) -> None:
    vault.seal()
    resp = hvac.Client(url=vault.url).sys.read_health_status(method="GET")
    assert resp.status_code == 503
    assert resp.json()["sealed"] is True and "cluster_id" not in resp.json()


def test_health_code_overrides(vault: VaultDevServer) -> None:
    url = f"{vault.url}/v1/sys/health"
    assert requests.get(url, params={"activecode": "299"}, timeout=5).status_code == 299
    vault.seal()
    assert requests.get(url, params={"sealedcode": "200"}, timeout=5).status_code == 200
    assert requests.get(url, params={"standbyok": "true"}, timeout=5).status_code == 503
    client = hvac.Client(url=vault.url)
    assert client.sys.read_health_status(sealed_code=299, method="GET").status_code == 299


def test_health_bad_code_is_400(vault: VaultDevServer) -> None:
    resp = requests.get(f"{vault.url}/v1/sys/health?sealedcode=abc", timeout=5)
    assert resp.status_code == 400 and resp.headers["Content-Type"] == "application/json"


def test_seal_status(vault: VaultDevServer) -> None:
    client = hvac.Client(url=vault.url)
    status = client.sys.read_seal_status()
    assert (
        status["sealed"] is False and status["initialized"] is True and status["type"] == "shamir"
    )
    vault.seal()
    assert client.sys.is_sealed() is True
    assert client.sys.is_initialized() is True


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.secrets.kv.v2.read_secret_version("a", raise_on_deleted_version=True),
        lambda c: c.auth.token.lookup_self(),
        lambda c: c.auth.approle.login(role_id="r", secret_id="s"),
    ],
    ids=["kv-read", "lookup-self", "login"],
)
def test_sealed_is_vault_down(vault: VaultDevServer, call: object) -> None:
    vault.enable_approle("agent")
    vault.seal()
    assert vault.sealed
    client = hvac.Client(url=vault.url, token=vault.root_token)
    with pytest.raises(hvac.exceptions.VaultDown) as info:
        call(client)  # type: ignore[operator]
    assert info.value.errors == ["Vault is sealed"]


def test_unseal_restores_service(vault: VaultDevServer) -> None:
    vault.put_secret("a", {"k": "v"})
    vault.seal()
    vault.unseal()
    client = hvac.Client(url=vault.url, token=vault.root_token)
    assert client.secrets.kv.v2.read_secret_version("a", raise_on_deleted_version=True)


def test_seal_and_unseal_over_http(vault: VaultDevServer) -> None:
    client = hvac.Client(url=vault.url, token=vault.root_token)
    assert client.sys.seal().status_code == 204
    assert vault.sealed
    assert client.sys.submit_unseal_key("any-key")["sealed"] is False
    assert not vault.sealed


def test_seal_needs_root(vault: VaultDevServer) -> None:
    client = hvac.Client(url=vault.url, token=vault.create_token())
    with pytest.raises(hvac.exceptions.Forbidden):
        client.sys.seal()
    assert not vault.sealed
