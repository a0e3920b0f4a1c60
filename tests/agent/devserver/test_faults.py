"""Fault injection: queued failures, 429 with Retry-After, latency, drops, hangs."""

from __future__ import annotations

import threading

import hvac
import hvac.exceptions
import pytest
import requests
from secrets_agent.devserver import VaultDevServer


@pytest.fixture
def client(vault: VaultDevServer) -> hvac.Client:
    vault.put_secret("app", {"k": "v"})
    return hvac.Client(url=vault.url, token=vault.root_token)


def _read(client: hvac.Client) -> dict[str, object]:
    return client.secrets.kv.v2.read_secret_version("app", raise_on_deleted_version=True)


@pytest.mark.parametrize(
    ("status", "exception", "message"),
    [
        (500, hvac.exceptions.InternalServerError, "internal error"),
        (502, hvac.exceptions.BadGateway, "upstream rate limited"),
        (503, hvac.exceptions.VaultDown, "Vault is sealed"),
        (429, hvac.exceptions.RateLimitExceeded,
         'request path "secret/data/app": rate limit quota exceeded'),
    ],
)  # fmt: skip
def test_fail_next_maps_to_hvac_exception(
    vault: VaultDevServer, client: hvac.Client, status: int, exception: type, message: str
) -> None:
    vault.fail_next(2, status=status)
    for _ in range(2):
        with pytest.raises(exception) as info:
            _read(client)
        assert info.value.errors == [message]
    assert _read(client)["data"]["data"] == {"k": "v"}


def test_429_sends_retry_after(vault: VaultDevServer, client: hvac.Client) -> None:
    vault.fail_next(1, status=429, retry_after=7)
    resp = requests.get(
        f"{vault.url}/v1/secret/data/app", headers={"X-Vault-Token": vault.root_token}, timeout=5
    )
    assert resp.status_code == 429 and resp.headers["Retry-After"] == "7"
    vault.fail_next(1, status=429)
    resp = requests.get(f"{vault.url}/v1/secret/data/app", timeout=5)
    assert resp.status_code == 429 and resp.headers["Retry-After"] == "1"


def test_fail_next_spares_health(vault: VaultDevServer, client: hvac.Client) -> None:
    vault.fail_next(1, status=500)
    assert client.sys.read_health_status(method="GET")["sealed"] is False
    with pytest.raises(hvac.exceptions.InternalServerError):
        _read(client)


def test_latency_causes_read_timeout(vault: VaultDevServer) -> None:
    vault.put_secret("app", {"k": "v"})
    vault.set_latency(0.5)
    slow = hvac.Client(url=vault.url, token=vault.root_token, timeout=0.1)
    with pytest.raises(requests.exceptions.ReadTimeout):
        _read(slow)
    vault.set_latency(0)
    assert _read(slow)


def test_drop_next_closes_connection(vault: VaultDevServer, client: hvac.Client) -> None:
    vault.drop_next(1)
    with pytest.raises(requests.exceptions.ConnectionError):
        _read(client)
    assert _read(client)["data"]["data"] == {"k": "v"}


def test_hang_until_unset(vault: VaultDevServer) -> None:
    vault.put_secret("app", {"k": "v"})
    vault.hang(True)
    quick = hvac.Client(url=vault.url, token=vault.root_token, timeout=0.2)
    with pytest.raises(requests.exceptions.ReadTimeout):
        _read(quick)
    vault.hang(False)
    assert _read(hvac.Client(url=vault.url, token=vault.root_token, timeout=5))


def test_stop_releases_hung_request_and_port() -> None:
    vault = VaultDevServer().start()
    port = vault.port
    vault.hang(True)
    errors: list[BaseException] = []

    def call() -> None:
        try:
            requests.get(f"{vault.url}/v1/sys/health", timeout=10)
        except requests.exceptions.RequestException as exc:
            errors.append(exc)

    thread = threading.Thread(target=call)
    thread.start()
    while vault.request_count == 0:
        threading.Event().wait(0.01)
    vault.stop()
    thread.join(timeout=5)
    assert not thread.is_alive() and len(errors) == 1
    with VaultDevServer(port=port) as again:  # the port is free again
        assert again.port == port


def test_request_log_and_reset(vault: VaultDevServer, client: hvac.Client) -> None:
    _read(client)
    assert vault.request_count == 1
    assert vault.requests == [("GET", "/v1/secret/data/app")]
    vault.reset_counters()
    assert vault.request_count == 0 and vault.requests == []


def test_clear_faults(vault: VaultDevServer, client: hvac.Client) -> None:
    vault.fail_next(3, status=500)
    vault.deny("secret/")
    vault.clear_faults()
    assert _read(client)


def test_restart_keeps_state_and_port() -> None:
    vault = VaultDevServer().start()
    try:
        vault.put_secret("app", {"k": "v"})
        port = vault.port
        vault.stop()
        client = hvac.Client(url=vault.url, token=vault.root_token, timeout=2)
        with pytest.raises(requests.exceptions.ConnectionError):
            _read(client)
        vault.start()
        assert vault.port == port
        assert _read(client)["data"]["data"] == {"k": "v"}
    finally:
        vault.stop()
