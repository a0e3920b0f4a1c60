"""HTTPS on the dev server: certificate verification by real clients, keep-alive, faults, CLI."""

from __future__ import annotations

import argparse
import http.client
import json
import socket
import ssl
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import hvac
import pytest
import requests
from secrets_agent.devserver import VaultDevServer
from secrets_agent.devserver import command as cli
from tls_pki import Pki

RUNNER = (
    "import argparse, sys\n"
    "from secrets_agent.devserver import command as cli\n"
    "parser = argparse.ArgumentParser()\n"
    "cli.add_arguments(parser)\n"
    "sys.exit(cli.run(parser.parse_args(sys.argv[1:])))\n"
)


def _https(vault: Any, ca: Path, host: str = "127.0.0.1") -> http.client.HTTPSConnection:
    context = ssl.create_default_context(cafile=str(ca))
    return http.client.HTTPSConnection(host, vault.port, timeout=5, context=context)


def _get(conn: http.client.HTTPConnection, path: str, token: str) -> tuple[int, Any]:
    conn.request("GET", path, headers={"X-Vault-Token": token})
    response = conn.getresponse()
    return response.status, json.loads(response.read() or b"null")


def test_url_scheme_and_a_verified_read(tls_vault: Any, pki: Pki) -> None:
    assert tls_vault.url == f"https://127.0.0.1:{tls_vault.port}"
    assert tls_vault.tls
    tls_vault.put_secret("alpaca", {"api_key_id": "id"})
    conn = _https(tls_vault, pki.ca)
    try:
        for _ in range(3):  # one connection, kept alive
            status, body = _get(conn, "/v1/secret/data/alpaca", tls_vault.root_token)
            assert status == 200 and body["data"]["data"] == {"api_key_id": "id"}
        status, _ = _get(conn, "/v1/secret/data/nope", tls_vault.root_token)
        assert status == 404
    finally:
        conn.close()
    assert tls_vault.request_count == 4


def test_localhost_name_verifies_too(tls_vault: Any, pki: Pki) -> None:
    conn = _https(tls_vault, pki.ca, host="localhost")
    try:
        status, body = _get(conn, "/v1/sys/health", "")
        assert status == 200 and body["sealed"] is False
    finally:
        conn.close()


def test_hvac_with_the_ca_file(tls_vault: Any, pki: Pki) -> None:
    tls_vault.put_secret("db", {"password": "pw"})
    client = hvac.Client(url=tls_vault.url, token=tls_vault.root_token, verify=str(pki.ca))
    read = client.secrets.kv.v2.read_secret_version("db", raise_on_deleted_version=True)
    assert read["data"]["data"] == {"password": "pw"}
    assert client.is_authenticated()


@pytest.mark.parametrize("wrong", ["other_ca", "system_store"])
def test_an_unknown_ca_is_refused_and_the_server_keeps_serving(
    tls_vault: Any, pki: Pki, wrong: str
) -> None:
    verify: str | bool = str(pki.other_ca) if wrong == "other_ca" else True
    with pytest.raises(requests.exceptions.SSLError, match="certificate verify failed"):
        requests.get(f"{tls_vault.url}/v1/sys/health", verify=verify, timeout=5)
    response = requests.get(f"{tls_vault.url}/v1/sys/health", verify=str(pki.ca), timeout=5)
    assert response.status_code == 200


def test_a_certificate_for_another_name_is_refused(pki: Pki) -> None:
    with VaultDevServer(tls_cert=pki.wrong_name_cert, tls_key=pki.wrong_name_key) as vault:
        with pytest.raises(ssl.SSLCertVerificationError, match="mismatch"):
            _https(vault, pki.ca).connect()
        assert vault.request_count == 0


def test_plain_http_to_the_tls_port_gets_no_answer(tls_vault: Any, pki: Pki) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", tls_vault.port, timeout=5)
    try:
        with pytest.raises((http.client.HTTPException, ConnectionError)):
            conn.request("GET", "/v1/sys/health")
            conn.getresponse().read()
    finally:
        conn.close()
    assert tls_vault.request_count == 0
    status, _ = _get(_https(tls_vault, pki.ca), "/v1/sys/health", "")
    assert status == 200


def test_a_silent_client_does_not_block_others(tls_vault: Any, pki: Pki) -> None:
    silent = socket.create_connection(("127.0.0.1", tls_vault.port))  # never says hello
    try:
        started = time.monotonic()
        conn = _https(tls_vault, pki.ca)
        status, _ = _get(conn, "/v1/sys/health", "")
        conn.close()
        assert status == 200
        assert time.monotonic() - started < 3  # not behind the silent client's handshake
    finally:
        silent.close()


def test_faults_over_tls(tls_vault: Any, pki: Pki) -> None:
    tls_vault.put_secret("a", {"k": "v"})
    tls_vault.fail_next(1, status=503)
    conn = _https(tls_vault, pki.ca)
    assert _get(conn, "/v1/secret/data/a", tls_vault.root_token)[0] == 503
    conn.close()
    tls_vault.drop_next(1)
    conn = _https(tls_vault, pki.ca)
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
        _get(conn, "/v1/secret/data/a", tls_vault.root_token)
    conn.close()
    assert _get(_https(tls_vault, pki.ca), "/v1/secret/data/a", tls_vault.root_token)[0] == 200


def test_stop_releases_a_hung_tls_connection(pki: Pki) -> None:
    vault = VaultDevServer(tls_cert=pki.cert, tls_key=pki.key).start()
    vault.hang(True)
    conn = _https(vault, pki.ca)
    errors: list[BaseException] = []

    def call() -> None:
        try:
            _get(conn, "/v1/sys/health", "")
        except BaseException as exc:
            errors.append(exc)

    caller = threading.Thread(target=call)
    caller.start()
    time.sleep(0.2)
    started = time.monotonic()
    vault.stop()
    caller.join(timeout=5)
    assert not caller.is_alive() and errors
    assert time.monotonic() - started < 3
    conn.close()


def test_cert_and_key_go_together(pki: Pki, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="both"):
        VaultDevServer(tls_cert=pki.cert)
    with pytest.raises(ValueError, match="both"):
        VaultDevServer(tls_key=pki.key)
    with pytest.raises(ValueError, match="cannot load"):
        VaultDevServer(tls_cert=tmp_path / "missing.pem", tls_key=pki.key)
    with pytest.raises(ValueError, match="cannot load"):
        VaultDevServer(tls_cert=pki.cert, tls_key=pki.wrong_name_key)  # key of another cert
    with VaultDevServer() as plain:
        assert plain.url.startswith("http://") and not plain.tls


def test_cli_serves_https(pki: Pki) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", RUNNER, "--port", "0", "--root-token", "dev-root",
         "--tls-cert", str(pki.cert), "--tls-key", str(pki.key)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        lines = dict(proc.stdout.readline().strip().split("=", 1) for _ in range(2))
        assert lines["VAULT_ADDR"].startswith("https://127.0.0.1:")
        client = hvac.Client(url=lines["VAULT_ADDR"], token="dev-root", verify=str(pki.ca))
        assert client.is_authenticated()
        proc.terminate()
        assert proc.wait(timeout=10) == 0
    finally:
        proc.kill()
        proc.wait()


def test_cli_refuses_half_a_tls_setup(pki: Pki, capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    args = parser.parse_args(["--port", "0", "--tls-cert", str(pki.cert)])
    assert cli.run(args) == 2
    assert "both a certificate and a private key" in capsys.readouterr().err
