"""The reader's Vault backend with ``VAULT_ADDR`` naming several nodes."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from libs.secrets import SecretBackendUnavailableError, VaultSecretManager
from secrets_agent.devserver import VaultDevServer


def _dead_address() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


@pytest.fixture
def pair() -> Iterator[tuple[VaultDevServer, VaultDevServer]]:
    with VaultDevServer(root_token="shared") as a, VaultDevServer(root_token="shared") as b:
        for server in (a, b):
            server.put_secret("x", {"k": "v"})
        yield a, b


def test_a_refused_node_hands_over_to_openbao(
    openbao: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    openbao.put_secret("reader/failover", {"k": "v"})
    policy = openbao.policy("reader-failover", "secret/data/reader/failover")
    role_id, secret_id = openbao.enable_approle("approle", "reader-failover", policy)
    dead = _dead_address()
    monkeypatch.setenv("VAULT_ADDR", f"{dead}, {openbao.url}/")
    monkeypatch.setenv("VAULT_ROLE_ID", role_id)
    monkeypatch.setenv("VAULT_SECRET_ID", secret_id)
    with VaultSecretManager(ttl_seconds=0) as manager, caplog.at_level(logging.WARNING):
        assert manager.get_secret("reader/failover/k") == "v"  # the login failed over too
        assert f"Vault at {dead}" in caplog.text
        caplog.clear()
        assert manager.get_secret("reader/failover/k") == "v"
        assert "Vault at" not in caplog.text  # the node that answered is asked first now
        assert manager._client.url == openbao.url


def test_a_sealed_node_moves_on_and_a_429_does_not(
    pair: tuple[VaultDevServer, VaultDevServer],
) -> None:
    a, b = pair
    config = {"address": f"{a.url},{b.url}", "token": "shared"}
    with VaultSecretManager(config, ttl_seconds=0) as manager:
        assert manager.get_secret("x/k") == "v"
        a.seal()
        assert manager.get_secret("x/k") == "v"
        a.unseal()
        b.fail_next(1, 429, retry_after=1)
        a.reset_counters()
        assert manager.get_secret("x/k") == "v"  # the last value, stale-if-error
        assert a.request_count == 0  # the rate-limited node was not left for another


def test_every_node_down_is_unavailable(pair: tuple[VaultDevServer, VaultDevServer]) -> None:
    a, b = pair
    config = {"address": f"{a.url},{b.url}", "token": "shared"}
    with VaultSecretManager(config, ttl_seconds=0) as manager:
        assert manager.get_secret("x/k") == "v"
        a.seal()
        b.seal()
        a.reset_counters()
        b.reset_counters()
        with pytest.raises(SecretBackendUnavailableError):
            manager.get_secret("y/k")
        assert a.request_count == 1 and b.request_count == 1
