"""KV v2 through the real hvac client: read, versions, CAS, metadata, list, delete, destroy."""

from __future__ import annotations

import hvac
import hvac.exceptions
import pytest
from secrets_agent.devserver import VaultDevServer


@pytest.fixture
def client(vault: VaultDevServer) -> hvac.Client:
    return hvac.Client(url=vault.url, token=vault.root_token)


def test_read_returns_full_envelope(vault: VaultDevServer, client: hvac.Client) -> None:
    vault.put_secret("alpaca", {"api_key_id": "id-1", "n": 3})
    resp = client.secrets.kv.v2.read_secret_version("alpaca", raise_on_deleted_version=True)
    assert list(resp) == ["request_id", "lease_id", "renewable", "lease_duration", "data",
                          "wrap_info", "warnings", "auth", "mount_type"]  # fmt: skip
    assert resp["mount_type"] == "kv"
    assert resp["data"]["data"] == {"api_key_id": "id-1", "n": 3}
    meta = resp["data"]["metadata"]
    assert meta["version"] == 1 and meta["deletion_time"] == "" and meta["destroyed"] is False
    assert meta["custom_metadata"] is None and meta["created_time"].endswith("Z")


def test_missing_secret_is_invalid_path_with_empty_errors(client: hvac.Client) -> None:
    with pytest.raises(hvac.exceptions.InvalidPath) as info:
        client.secrets.kv.v2.read_secret_version("nope", raise_on_deleted_version=True)
    assert info.value.errors == []
    assert str(info.value).startswith("None, on get ")


def test_write_and_read_specific_version(client: hvac.Client) -> None:
    client.secrets.kv.v2.create_or_update_secret("db", {"password": "one"})
    written = client.secrets.kv.v2.create_or_update_secret("db", {"password": "two"})
    assert written["data"]["version"] == 2 and written["mount_type"] == "kv"
    old = client.secrets.kv.v2.read_secret_version("db", version=1, raise_on_deleted_version=True)
    assert old["data"]["data"] == {"password": "one"}
    with pytest.raises(hvac.exceptions.InvalidPath):
        client.secrets.kv.v2.read_secret_version("db", version=3, raise_on_deleted_version=True)


def test_cas_mismatch_is_invalid_request(client: hvac.Client) -> None:
    client.secrets.kv.v2.create_or_update_secret("db", {"a": "1"}, cas=0)
    with pytest.raises(hvac.exceptions.InvalidRequest) as info:
        client.secrets.kv.v2.create_or_update_secret("db", {"a": "2"}, cas=0)
    assert info.value.errors == ["check-and-set parameter did not match the current version"]
    assert (
        client.secrets.kv.v2.create_or_update_secret("db", {"a": "2"}, cas=1)["data"]["version"]
        == 2
    )


def test_soft_delete_latest_gives_deleted_envelope(
    vault: VaultDevServer, client: hvac.Client
) -> None:
    vault.put_secret("app", {"k": "v"})
    resp = client.secrets.kv.v2.delete_latest_version_of_secret("app")
    assert resp.status_code == 204 and resp.content == b""
    with pytest.raises(hvac.exceptions.InvalidPath) as info:
        client.secrets.kv.v2.read_secret_version("app", raise_on_deleted_version=True)
    assert info.value.errors is None and info.value.json["data"]["data"] is None
    deleted = client.secrets.kv.v2.read_secret_version("app", raise_on_deleted_version=False)
    assert deleted["data"]["data"] is None and deleted["mount_type"] == ""
    assert deleted["data"]["metadata"]["deletion_time"] != ""
