"""Values never leak into logs or error bodies; concurrent clients see consistent state."""

from __future__ import annotations

import logging
import threading

import hvac
import hvac.exceptions
import pytest
import requests
from secrets_agent.devserver import VaultDevServer


def test_values_never_logged_or_echoed(
    vault: VaultDevServer, canary: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client = hvac.Client(url=vault.url, token=vault.root_token)
    client.secrets.kv.v2.create_or_update_secret("app", {"password": canary})
    with pytest.raises(hvac.exceptions.InvalidRequest) as info:
        client.secrets.kv.v2.create_or_update_secret("app", {"password": canary}, cas=7)
    assert canary not in str(info.value)
    headers = {"X-Vault-Token": vault.root_token}
    bad = requests.post(f"{vault.url}/v1/secret/data/app", data='{"data": "' + canary,
                        headers=headers, timeout=5)  # fmt: skip
    assert bad.status_code == 400 and canary not in bad.text
    vault.fail_next(1, status=500)
    with pytest.raises(hvac.exceptions.InternalServerError) as failed:
        client.secrets.kv.v2.read_secret_version("app", raise_on_deleted_version=True)
    assert canary not in str(failed.value)
    assert canary not in caplog.text
    assert canary not in repr(vault)


def test_concurrent_writers_get_distinct_versions(vault: VaultDevServer) -> None:
    versions: list[int] = []
    lock = threading.Lock()

    def writer() -> None:
        client = hvac.Client(url=vault.url, token=vault.root_token)
        for i in range(20):
            got = client.secrets.kv.v2.create_or_update_secret("shared", {"i": i})
            with lock:
                versions.append(got["data"]["version"])

    threads = [threading.Thread(target=writer) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(versions) == list(range(1, 121))
    client = hvac.Client(url=vault.url, token=vault.root_token)
    assert client.secrets.kv.v2.read_secret_metadata("shared")["data"]["current_version"] == 120
    assert vault.request_count == 121
