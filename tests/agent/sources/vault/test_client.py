"""The hvac client built on first use: a token sync without hvac, everything else through it."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests.utils
from secrets_agent.config.load import AuthConfig, VaultBackendConfig
from secrets_agent.sources import create_source
from secrets_agent.sources.base import SourceSetupError
from secrets_agent.sources.result import (
    AuthenticationError,
    BackendUnavailableError,
    InvalidResponseError,
    SecretData,
)
from secrets_agent.sources.vault.client import LazyClient
from secrets_agent.sources.vault.source import VaultSource, environ_proxies

_PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")


@pytest.fixture(autouse=True)
def _no_proxy_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in _PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)


def _source(server: Any, auth: AuthConfig) -> VaultSource:
    config = VaultBackendConfig(address=server.url, auth=auth, timeout=2.0)
    source = create_source(config, concurrency=4)
    assert isinstance(source, VaultSource)
    return source


def _client(source: VaultSource) -> LazyClient:
    client = source._client
    assert isinstance(client, LazyClient)
    return client


def test_a_token_sync_never_builds_the_hvac_client(openbao: Any, tmp_path: Path) -> None:
    openbao.put_secret("lazy/a", {"k": "a"})
    openbao.put_secret("lazy/b", {"k": "b"})
    token_file = tmp_path / "token"
    token_file.write_text(openbao.create_token(openbao.policy("lazy", "secret/data/lazy/*")))
    source = _source(openbao, AuthConfig(method="token", token_file=token_file))
    try:
        results = source.fetch_many(["lazy/a", "lazy/b"])
        assert all(isinstance(r, SecretData) for r in results.values())
        assert source.auth.seconds_until_due() is not None  # the lookup gave the token's TTL
        assert not _client(source).built
    finally:
        source.close()


def test_a_token_that_may_not_look_itself_up_needs_no_hvac(openbao: Any, tmp_path: Path) -> None:
    openbao.put_secret("lazy/nolookup", {"k": "v"})
    policy = openbao.policy("lazy-nolookup", "secret/data/lazy/nolookup")
    token = openbao.create_token(policy, no_default_policy=True)
    source = _source(openbao, AuthConfig(method="token", token=token))
    try:
        assert isinstance(source.fetch_many(["lazy/nolookup"])["lazy/nolookup"], SecretData)
        assert source.auth.seconds_until_due() is None  # accepted with an unknown TTL
        assert not _client(source).built
    finally:
        source.close()


def test_renewal_builds_the_hvac_client_with_the_current_token(openbao: Any) -> None:
    openbao.put_secret("lazy/renew", {"k": "v"})
    token = openbao.create_token(openbao.policy("lazy-renew", "secret/data/lazy/renew"), ttl="1h")
    source = _source(openbao, AuthConfig(method="token", token=token))
    try:
        assert isinstance(source.fetch_many(["lazy/renew"])["lazy/renew"], SecretData)
        source.auth.keeper._renew_at = 0.0  # as if two thirds of the TTL had passed
        assert source.maintain() is not None
        client = _client(source)
        assert client.built and client.hvac().token == token
        assert client.hvac().url == openbao.url
    finally:
        source.close()


def test_approle_logs_in_through_hvac(openbao: Any) -> None:
    openbao.put_secret("lazy/role", {"k": "v"})
    role_id, secret_id = openbao.enable_approle(
        "approle", "lazy-role", openbao.policy("lazy-role", "secret/data/lazy/role")
    )
    source = _source(openbao, AuthConfig(method="approle", role_id=role_id, secret_id=secret_id))
    try:
        assert isinstance(source.fetch_many(["lazy/role"])["lazy/role"], SecretData)
        assert _client(source).built
    finally:
        source.close()


def test_a_lookup_at_a_sealed_server_fails_as_a_token_login(vault: Any) -> None:
    vault.seal()
    source = _source(vault, AuthConfig(method="token", token=vault.root_token))
    try:
        error = source.fetch_many(["x"])["x"]
        assert isinstance(error, BackendUnavailableError)
        assert "token login" in str(error) and "sealed" in str(error)
        assert not _client(source).built
    finally:
        source.close()
        vault.unseal()


def test_an_unreadable_token_file_is_still_an_authentication_error(
    vault: Any, tmp_path: Path
) -> None:
    source = _source(vault, AuthConfig(method="token", token_file=tmp_path / "absent"))
    try:
        error = source.fetch_many(["x"])["x"]
        assert isinstance(error, AuthenticationError) and "absent" in str(error)
    finally:
        source.close()


def test_a_proxy_in_the_environment_sends_every_call_through_hvac(
    vault: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A proxy for https only: requests keeps it in its map, and reaches the http:// dev server
    # directly.
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.invalid:3128")
    vault.put_secret("x", {"k": "v"})
    source = _source(vault, AuthConfig(method="token", token=vault.root_token))
    try:
        assert source.pool() is None
        assert isinstance(source.fetch_many(["x"])["x"], SecretData)
        assert _client(source).built
    finally:
        source.close()


@pytest.mark.parametrize(
    "environment",
    [
        {},
        {"NO_PROXY": "127.0.0.1"},
        {"https_proxy": "http://proxy.invalid:3128"},
        {"HTTP_PROXY": "http://proxy.invalid:3128", "no_proxy": "vault.example"},
        {"ALL_PROXY": "socks5://proxy.invalid:1080"},
        {"http_proxy": ""},
    ],
)
@pytest.mark.parametrize("address", ["http://127.0.0.1:8200", "https://vault.example:8200"])
def test_environ_proxies_is_what_requests_would_use(
    environment: dict[str, str], address: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    assert environ_proxies(address) == dict(requests.utils.get_environ_proxies(address))


def test_without_hvac_the_source_cannot_be_set_up(
    vault: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "hvac", None)
    config = VaultBackendConfig(address=vault.url, auth=AuthConfig(method="token", token="t"))
    with pytest.raises(SourceSetupError, match="hvac"):
        create_source(config)


@pytest.fixture
def not_json_lookup() -> Iterator[str]:
    """A server that answers every request 200 with a body that is not JSON (and holds the
    token, as a lookup's body does)."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_: Any) -> None:
            pass

        def do_GET(self) -> None:
            payload = b"<html>token-canary-123</html>"
            self.send_response(200)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_lookup_answer_that_is_not_json_is_invalid_and_not_quoted(not_json_lookup: str) -> None:
    config = VaultBackendConfig(
        address=not_json_lookup, auth=AuthConfig(method="token", token="t"), timeout=2.0
    )
    source = create_source(config)
    assert isinstance(source, VaultSource)
    try:
        error = source.fetch_many(["x"])["x"]
        assert isinstance(error, InvalidResponseError) and "token login" in str(error)
        assert error.__cause__ is None and "canary" not in repr(error)
        assert not _client(source).built
    finally:
        source.close()
