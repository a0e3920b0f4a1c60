"""Leased reads against a real OpenBao: issue with POST data, a lease granted by the PKI engine,
renewal of a lease the server does not know, revoke, and a new login after a refused token."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from secrets_agent.config.load import AuthConfig, VaultBackendConfig
from secrets_agent.sources.result import AccessDeniedError
from secrets_agent.sources.vault.leases import LeaseGoneError
from secrets_agent.sources.vault.source import VaultSource


@pytest.fixture(scope="module")
def pki(openbao: Any) -> Any:
    client = openbao.client()
    if "leasepki/" not in client.sys.list_mounted_secrets_engines()["data"]:
        client.sys.enable_secrets_engine("pki", path="leasepki", config={"max_lease_ttl": "24h"})
        client.write("leasepki/root/generate/internal", common_name="example.test", ttl="24h")
        client.write("leasepki/roles/web", allowed_domains="example.test", allow_subdomains=True)
        client.write(
            "leasepki/roles/leased",
            allowed_domains="example.test",
            allow_subdomains=True,
            generate_lease=True,
        )
        rules = (
            'path "leasepki/issue/*" { capabilities = ["update"] }\n'
            'path "sys/leases/*" { capabilities = ["update"] }\n'
        )
        client.sys.create_or_update_policy(name="leases", policy=rules)
    return openbao


def _source(server: Any, auth: AuthConfig) -> VaultSource:
    return VaultSource(VaultBackendConfig(address=server.url, auth=auth, timeout=5.0))


def _root(server: Any) -> VaultSource:
    return _source(server, AuthConfig(method="token", token=server.root_token))


def test_issue_a_certificate_with_post_data(pki: Any) -> None:
    source = _root(pki)
    data, reply = source.leases().issue(
        "leasepki/issue/web", "POST", [("common_name", "a.example.test"), ("ttl", "60s")]
    )
    source.close()
    assert data.fields is not None and data.fields["certificate"].startswith("-----BEGIN")
    assert data.fields["ca_chain"].count("BEGIN CERTIFICATE") == 1
    assert reply.lease_id is None and reply.not_after is not None and reply.not_before is not None
    assert 60 <= reply.not_after - reply.not_before <= 120  # back-dated by the server
    assert "private_key" not in repr(data) or "redacted" in repr(data)


def test_a_leased_certificate_is_revoked_and_then_cannot_be_renewed(pki: Any) -> None:
    source = _root(pki)
    leases = source.leases()
    _, reply = leases.issue(
        "leasepki/issue/leased", "POST", [("common_name", "b.example.test"), ("ttl", "60s")]
    )
    assert reply.lease_id and reply.lease_id.startswith("leasepki/issue/leased/")
    assert 50 <= reply.duration <= 60
    leases.revoke(reply.lease_id)
    with pytest.raises(LeaseGoneError):
        leases.renew(reply.lease_id, 60)
    with pytest.raises(LeaseGoneError):
        leases.renew("leasepki/issue/leased/unknown", 60)
    source.close()


def test_a_refused_token_logs_in_again(pki: Any, tmp_path: Path) -> None:
    role_id, secret_id = pki.enable_approle("approle", "lease-agent", "leases")
    source = _source(
        pki, AuthConfig(method="approle", role_id=role_id, secret_id=secret_id, mount="approle")
    )
    leases = source.leases()
    args = ("leasepki/issue/web", "POST", [("common_name", "c.example.test"), ("ttl", "60s")])
    leases.issue(*args)
    token = source.auth.token
    assert token is not None
    pki.revoke_token(token)
    leases.issue(*args)  # refused, logged in again, issued
    assert source.auth.token not in (None, token)
    with pytest.raises(AccessDeniedError):
        leases.issue("leasepki/sign/web", "POST", [("common_name", "c.example.test")])
    source.close()
