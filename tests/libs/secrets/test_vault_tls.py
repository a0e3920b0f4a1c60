"""VaultSecretManager over HTTPS: VAULT_CACERT, unknown CAs and host names.

A certificate that does not verify is a ``SecretConfigurationError``: not transient, so never
answered from stale cache entries or the agent's files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from libs.secrets import (
    SecretConfigurationError,
    VaultSecretManager,
    create_secret_manager,
)
from secrets_agent.devserver import VaultDevServer


def _env(monkeypatch: pytest.MonkeyPatch, vault: VaultDevServer, ca: Path) -> None:
    monkeypatch.setenv("SECRET_BACKEND", "vault")
    monkeypatch.setenv("VAULT_ADDR", vault.url)
    monkeypatch.setenv("VAULT_TOKEN", vault.root_token)
    monkeypatch.setenv("VAULT_CACERT", str(ca))
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)


def test_reads_over_https_with_vault_cacert(
    tls_vault: VaultDevServer, pki: Any, monkeypatch: pytest.MonkeyPatch, canary: str
) -> None:
    tls_vault.put_secret("alpaca", {"api_key_id": canary})
    _env(monkeypatch, tls_vault, pki.ca)
    manager = create_secret_manager()
    assert isinstance(manager, VaultSecretManager)
    assert manager.get_secret("alpaca/api_key_id") == canary


def test_approle_login_over_https(tls_vault: VaultDevServer, pki: Any) -> None:
    role_id, secret_id = tls_vault.enable_approle("app", paths=["secret/data/db"])
    tls_vault.put_secret("db", {"password": "pw"})
    config = {"address": tls_vault.url, "role_id": role_id, "secret_id": secret_id,
              "ca_cert": str(pki.ca)}  # fmt: skip
    with VaultSecretManager(config) as manager:
        assert manager.get_secret("db/password") == "pw"


@pytest.mark.parametrize("case", ["other_ca", "wrong_host_name"])
def test_a_certificate_that_does_not_verify_is_a_configuration_error(
    pki: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, canary: str, case: str
) -> None:
    cert, key, ca = pki.cert, pki.key, pki.other_ca
    if case == "wrong_host_name":
        cert, key, ca = pki.wrong_name_cert, pki.wrong_name_key, pki.ca
    # The agent's file is there, but a verification failure is not an outage: not used.
    agent_files = tmp_path / "agent-files"
    (agent_files / "alpaca").mkdir(parents=True)
    (agent_files / "alpaca" / "api_key_id").write_text(canary)
    monkeypatch.setenv("SECRETS_DIR", str(agent_files))
    with VaultDevServer(tls_cert=cert, tls_key=key) as vault:
        vault.put_secret("alpaca", {"api_key_id": canary})
        _env(monkeypatch, vault, ca)
        manager = create_secret_manager()
        with pytest.raises(SecretConfigurationError) as info:
            manager.get_secret("alpaca/api_key_id")
        assert isinstance(info.value, ValueError)
        assert vault.request_count == 0
    message = str(info.value)
    assert "TLS certificate verification failed" in message
    assert vault.url in message and "VAULT_CACERT" in message
    if case == "wrong_host_name":
        assert "mismatch, certificate is not valid for" in message
    else:
        assert "unable to get local issuer certificate" in message
    assert "\n" not in message
    for text in (message, repr(info.value)):
        assert canary not in text and vault.root_token not in text


def test_login_meets_the_unknown_ca_first(tls_vault: VaultDevServer, pki: Any) -> None:
    role_id, secret_id = tls_vault.enable_approle("app")
    config = {"address": tls_vault.url, "role_id": role_id, "secret_id": secret_id,
              "ca_cert": str(pki.other_ca)}  # fmt: skip
    with (
        VaultSecretManager(config) as manager,
        pytest.raises(SecretConfigurationError, match="approle login at https://") as info,
    ):
        manager.get_secret("db/password")
    assert "TLS certificate verification failed" in str(info.value)
    assert secret_id not in str(info.value)
