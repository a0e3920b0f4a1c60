"""Fixtures shared by every test package: real servers on loopback and real tmpfs."""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CANARY = "canary-Zq7-" + uuid.uuid4().hex  # a value that must never appear in any output


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def canary() -> str:
    """A secret value that tests plant and then search for in every output channel."""
    return CANARY


@pytest.fixture
def tmpfs_dir() -> Iterator[Path]:
    """A fresh directory on a real tmpfs (/dev/shm), removed afterwards."""
    base = Path("/dev/shm")
    if not base.is_dir():
        pytest.skip("/dev/shm is not available")
    path = Path(tempfile.mkdtemp(prefix="tmpfs-secrets-test-", dir=base))
    os.chmod(path, 0o700)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def vault() -> Iterator[object]:
    """A fresh Vault-compatible dev server on 127.0.0.1 (``.url``, ``.root_token``)."""
    from secrets_agent.devserver import VaultDevServer

    with VaultDevServer() as server:
        yield server


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """moto's HTTP server on 127.0.0.1, shared by the session; returns its endpoint URL."""
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def aws_env(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Environment for boto3 pointed at moto's server with dummy credentials.

    Resets moto's state first so every test starts with no secrets.
    """
    import urllib.request

    req = urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST")
    urllib.request.urlopen(req, timeout=10).close()
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", moto_endpoint)
    for var in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    return moto_endpoint


@pytest.fixture
def pki(tmp_path: Path) -> Any:
    """A throwaway CA and a server certificate for 127.0.0.1/localhost (``.ca``, ``.cert``, ...)."""
    from tls_pki import make_pki

    return make_pki(tmp_path / "pki")


@pytest.fixture
def tls_vault(pki: Any) -> Iterator[Any]:
    """A dev server speaking HTTPS with ``pki``'s certificate."""
    from secrets_agent.devserver import VaultDevServer

    with VaultDevServer(tls_cert=pki.cert, tls_key=pki.key) as server:
        yield server
