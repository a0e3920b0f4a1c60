"""The Vault source over HTTPS: ``ca_cert``, unknown CAs and host names, through the CLI too."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from secrets_agent.config.load import AuthConfig, VaultBackendConfig
from secrets_agent.devserver import VaultDevServer
from secrets_agent.sources import create_source
from secrets_agent.sources.result import SecretData
from secrets_agent.sources.vault.errors import TLSVerificationError
from secrets_agent.sources.vault.source import VaultSource


def _source(vault: VaultDevServer, ca: Path | None, auth: AuthConfig | None = None) -> VaultSource:
    config = VaultBackendConfig(
        address=vault.url,
        auth=auth or AuthConfig(method="token", token=vault.root_token),
        ca_cert=ca,
        timeout=2.0,
    )
    source = create_source(config, concurrency=2)
    assert isinstance(source, VaultSource)
    return source


def _run_once(tmp_path: Path, out: Path, vault: VaultDevServer, ca: Path | None) -> Any:
    ca_line = f'ca_cert = "{ca}"\n' if ca is not None else ""
    config = tmp_path / "agent.toml"
    config.write_text(
        f"""
[agent]
output_dir = "{out}"
[backend]
type = "vault"
address = "{vault.url}"
auth = {{ method = "token", token = "{vault.root_token}" }}
timeout = "2s"
{ca_line}
[[secrets]]
path = "alpaca"
"""
    )
    env = {k: v for k, v in os.environ.items() if k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC")}
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR"):
        env.pop(name, None)
    return subprocess.run(
        [sys.executable, "-m", "secrets_agent", "--log-level", "debug", "run", "--once",
         "--config", str(config)],
        capture_output=True, text=True, timeout=60, env=env,
    )  # fmt: skip


def _written(out: Path) -> list[Path]:
    if not out.exists():
        return []
    return [p for p in out.rglob("*") if p.is_file() and not p.name.startswith(".")]


def test_run_once_syncs_over_https_with_ca_cert(
    tls_vault: VaultDevServer, pki: Any, tmp_path: Path, tmpfs_dir: Path, canary: str
) -> None:
    tls_vault.put_secret("alpaca", {"api_key_id": "id-1", "secret": canary})
    out = tmpfs_dir / "out"
    result = _run_once(tmp_path, out, tls_vault, pki.ca)
    assert result.returncode == 0, result.stderr
    assert (out / "alpaca" / "secret").read_text() == canary
    assert (out / "alpaca" / "api_key_id").read_text() == "id-1"
    assert canary not in result.stderr + result.stdout
    assert tls_vault.root_token not in result.stderr + result.stdout


@pytest.mark.parametrize("case", ["other_ca", "no_ca_cert", "wrong_host_name"])
def test_run_once_refuses_a_certificate_that_does_not_verify(
    pki: Any, tmp_path: Path, tmpfs_dir: Path, canary: str, case: str
) -> None:
    cert, key, ca = pki.cert, pki.key, pki.other_ca
    if case == "no_ca_cert":
        ca = None  # certifi's bundle does not know the throwaway CA
    elif case == "wrong_host_name":
        cert, key, ca = pki.wrong_name_cert, pki.wrong_name_key, pki.ca
    out = tmpfs_dir / "out"
    with VaultDevServer(tls_cert=cert, tls_key=key) as vault:
        vault.put_secret("alpaca", {"secret": canary})
        result = _run_once(tmp_path, out, vault, ca)
        assert vault.request_count == 0  # nothing was ever sent over the unverified channel
    assert result.returncode == 1
    output = result.stderr + result.stdout
    assert "Traceback" not in output
    failures = [line for line in output.splitlines() if "not written: alpaca" in line]
    assert len(failures) == 1
    assert "TLS certificate verification failed" in failures[0]
    assert vault.url in failures[0]
    if case == "wrong_host_name":
        assert "mismatch, certificate is not valid for" in failures[0]
    else:
        assert "unable to get local issuer certificate" in failures[0]
    assert "backend unavailable" not in output  # not treated as an outage
    assert _written(out) == []
    assert canary not in output and vault.root_token not in output


def test_kv_reads_reuse_one_verified_connection(tls_vault: VaultDevServer, pki: Any) -> None:
    for name in ("a", "b", "c"):
        tls_vault.put_secret(name, {"k": name})
    source = _source(tls_vault, pki.ca)
    try:
        for name in ("a", "b", "c"):
            result = source.fetch_many([name])[name]
            assert isinstance(result, SecretData) and result.fields == {"k": name}
        assert (pool := source.pool()) is not None and pool.opened == 1
    finally:
        source.close()


def test_approle_login_over_https(tls_vault: VaultDevServer, pki: Any) -> None:
    role_id, secret_id = tls_vault.enable_approle("agent", paths=["secret/data/app/*"])
    tls_vault.put_secret("app/db", {"password": "pw"})
    auth = AuthConfig(method="approle", role_id=role_id, secret_id=secret_id)
    source = _source(tls_vault, pki.ca, auth)
    try:
        result = source.fetch_many(["app/db"])["app/db"]
        assert isinstance(result, SecretData) and result.fields == {"password": "pw"}
    finally:
        source.close()


def test_verification_failures_are_one_line_and_hold_no_token(
    tls_vault: VaultDevServer, pki: Any
) -> None:
    tls_vault.put_secret("a", {"k": "v"})
    # Login (hvac) and KV reads (the lean client) both refuse the unknown CA.
    source = _source(tls_vault, pki.other_ca)
    try:
        error = source.fetch_many(["a"])["a"]
        assert isinstance(error, TLSVerificationError)
        assert "token login" in str(error) and not error.retryable
        # A token already in hand: the KV read itself meets the certificate first.
        source.auth.keeper._token = tls_vault.root_token
        error = source.fetch_many(["a"])["a"]
        assert isinstance(error, TLSVerificationError)
        assert "reading 'a'" in str(error) and error.path == "a"
        for text in (str(error), repr(error)):
            assert "\n" not in text and tls_vault.root_token not in text
            assert tls_vault.url in text
    finally:
        source.close()
    assert tls_vault.request_count == 0
