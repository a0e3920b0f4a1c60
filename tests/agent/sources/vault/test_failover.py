"""The Vault source with several addresses: on to the next node when one gives no answer, a
5xx or a standby's redirect; the node that answered stays current; a 429 stays put."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from secrets_agent.config.load import AuthConfig, VaultBackendConfig
from secrets_agent.devserver import VaultDevServer
from secrets_agent.sources.result import BackendUnavailableError, SecretData
from secrets_agent.sources.vault.errors import NodeUnavailableError
from secrets_agent.sources.vault.source import VaultSource


def _dead_address() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"  # closed again: refused


def _source(addresses: list[str], auth: AuthConfig) -> VaultSource:
    config = VaultBackendConfig(
        address=addresses[0], addresses=tuple(addresses), auth=auth, timeout=5.0
    )
    return VaultSource(config, concurrency=4)


@pytest.fixture
def pair() -> Iterator[tuple[VaultDevServer, VaultDevServer]]:
    """Two dev servers that accept the same root token and hold the same secrets."""
    with (
        VaultDevServer(root_token="shared-root") as a,
        VaultDevServer(root_token="shared-root") as b,
    ):
        for server in (a, b):
            server.put_secret("x", {"k": "v"})
        yield a, b


def test_a_refused_first_address_hands_over_to_openbao(
    openbao: Any, caplog: pytest.LogCaptureFixture
) -> None:
    openbao.put_secret("failover/x", {"k": "v"})
    dead = _dead_address()
    source = _source([dead, openbao.url], AuthConfig(method="token", token=openbao.root_token))
    try:
        with caplog.at_level(logging.WARNING):
            results = source.fetch_many(["failover/x"])
        assert isinstance(results["failover/x"], SecretData)
        assert source.addresses.current == openbao.url
        assert f"Vault at {dead}" in caplog.text and openbao.url in caplog.text
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            assert isinstance(source.fetch_many(["failover/x"])["failover/x"], SecretData)
        assert caplog.text == ""  # the node that worked is asked first now
    finally:
        source.close()


def test_an_approle_login_fails_over_too(openbao: Any) -> None:
    openbao.put_secret("failover/login", {"k": "v"})
    policy = openbao.policy("failover-login", "secret/data/failover/login")
    role_id, secret_id = openbao.enable_approle("approle", "failover-login", policy)
    auth = AuthConfig(method="approle", role_id=role_id, secret_id=secret_id)
    source = _source([_dead_address(), openbao.url], auth)
    try:
        assert source.maintain() is not None  # the login reached the second node
        assert isinstance(source.fetch_many(["failover/login"])["failover/login"], SecretData)
    finally:
        source.close()


def test_a_5xx_moves_on_and_the_working_node_stays_current(
    pair: tuple[VaultDevServer, VaultDevServer],
) -> None:
    a, b = pair
    source = _source([a.url, b.url], AuthConfig(method="token", token="shared-root"))
    try:
        assert isinstance(source.fetch_many(["x"])["x"], SecretData)
        a.seal()  # 503 from a
        assert isinstance(source.fetch_many(["x"])["x"], SecretData)
        assert source.addresses.current == b.url
        a.unseal()
        a.reset_counters()
        for _ in range(3):
            assert isinstance(source.fetch_many(["x"])["x"], SecretData)
        assert a.request_count == 0  # no return to the first address while b works
        b.fail_next(1, 500)
        assert isinstance(source.fetch_many(["x"])["x"], SecretData)
        assert source.addresses.current == a.url
    finally:
        source.close()


def test_a_rate_limit_does_not_move(pair: tuple[VaultDevServer, VaultDevServer]) -> None:
    a, b = pair
    source = _source([a.url, b.url], AuthConfig(method="token", token="shared-root"))
    try:
        assert isinstance(source.fetch_many(["x"])["x"], SecretData)
        a.fail_next(1, 429, retry_after=2)
        result = source.fetch_many(["x"])["x"]
        assert isinstance(result, BackendUnavailableError) and result.retry_after == 2
        assert source.addresses.current == a.url
    finally:
        source.close()


def test_every_node_down_is_one_unavailable_error_per_secret(
    pair: tuple[VaultDevServer, VaultDevServer],
) -> None:
    a, b = pair
    source = _source([a.url, b.url], AuthConfig(method="token", token="shared-root"))
    try:
        assert isinstance(source.fetch_many(["x"])["x"], SecretData)
        a.seal()
        b.seal()
        a.reset_counters()
        b.reset_counters()
        result = source.fetch_many(["x"])["x"]
        assert isinstance(result, NodeUnavailableError) and result.path == "x"
        assert a.request_count == 1 and b.request_count == 1  # each node asked once
    finally:
        source.close()


def test_a_single_address_behaves_as_before(pair: tuple[VaultDevServer, VaultDevServer]) -> None:
    a, _ = pair
    source = _source([a.url], AuthConfig(method="token", token="shared-root"))
    try:
        assert isinstance(source.fetch_many(["x"])["x"], SecretData)
        a.seal()
        assert isinstance(source.fetch_many(["x"])["x"], BackendUnavailableError)
        assert source.addresses.current == a.url
    finally:
        source.close()
