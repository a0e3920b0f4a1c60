"""KV v1 mounts: enabled through sys/mounts, read / write / list / delete through hvac."""

from __future__ import annotations

import hvac
import hvac.exceptions
import pytest
from secrets_agent.devserver import VaultDevServer


@pytest.fixture
def client(vault: VaultDevServer) -> hvac.Client:
    c = hvac.Client(url=vault.url, token=vault.root_token)
    c.sys.enable_secrets_engine("kv", path="kv1", options={"version": "1"})
    return c


def test_enable_mount_through_sys_mounts(client: hvac.Client) -> None:
    mounts = client.sys.list_mounted_secrets_engines()["data"]
    assert mounts["kv1/"]["type"] == "kv" and mounts["kv1/"]["options"] == {"version": "1"}
    assert mounts["secret/"]["options"] == {"version": "2"}


def test_enable_existing_mount_is_invalid_request(client: hvac.Client) -> None:
    with pytest.raises(hvac.exceptions.InvalidRequest) as info:
        client.sys.enable_secrets_engine("kv", path="kv1", options={"version": "1"})
    assert info.value.errors == ["path is already in use at kv1/"]


def test_enable_kv_v2_mount(vault: VaultDevServer, client: hvac.Client) -> None:
    client.sys.enable_secrets_engine("kv-v2", path="team")
    client.secrets.kv.v2.create_or_update_secret("x", {"a": "b"}, mount_point="team")
    read = client.secrets.kv.v2.read_secret_version(
        "x", mount_point="team", raise_on_deleted_version=True
    )
    assert read["data"]["data"] == {"a": "b"}


def test_write_read_round_trip(client: hvac.Client) -> None:
    resp = client.secrets.kv.v1.create_or_update_secret(
        "db", {"password": "p", "n": 1}, mount_point="kv1"
    )
    assert resp.status_code == 204
    read = client.secrets.kv.v1.read_secret("db", mount_point="kv1")
    assert read["data"] == {"password": "p", "n": 1}
    assert read["lease_duration"] == 2764800 and read["mount_type"] == "kv"
    assert read["renewable"] is False and read["lease_id"] == ""


def test_ttl_key_sets_lease_duration(client: hvac.Client) -> None:
    client.secrets.kv.v1.create_or_update_secret(
        "db", {"password": "p", "ttl": "1h"}, mount_point="kv1"
    )
    assert client.secrets.kv.v1.read_secret("db", mount_point="kv1")["lease_duration"] == 3600


def test_python_api_writes_v1(vault: VaultDevServer) -> None:
    vault.enable_kv(mount="legacy", version=1)
    assert vault.put_secret("db", {"password": "p"}, mount="legacy") == 1
    c = hvac.Client(url=vault.url, token=vault.root_token)
    assert c.secrets.kv.v1.read_secret("db", mount_point="legacy")["data"] == {"password": "p"}
    vault.delete_secret("db", mount="legacy")
    with pytest.raises(hvac.exceptions.InvalidPath):
        c.secrets.kv.v1.read_secret("db", mount_point="legacy")


def test_missing_is_404(client: hvac.Client) -> None:
    with pytest.raises(hvac.exceptions.InvalidPath) as info:
        client.secrets.kv.v1.read_secret("nope", mount_point="kv1")
    assert info.value.errors == []


def test_list_and_delete(client: hvac.Client) -> None:
    for path in ("app/a", "app/b/c"):
        client.secrets.kv.v1.create_or_update_secret(path, {"k": "v"}, mount_point="kv1")
    assert client.secrets.kv.v1.list_secrets("app", mount_point="kv1")["data"]["keys"] == [
        "a",
        "b/",
    ]
    assert client.secrets.kv.v1.delete_secret("app/a", mount_point="kv1").status_code == 204
    assert client.secrets.kv.v1.list_secrets("app", mount_point="kv1")["data"]["keys"] == ["b/"]


def test_write_without_fields_is_invalid_request(client: hvac.Client) -> None:
    with pytest.raises(hvac.exceptions.InvalidRequest) as info:
        client.secrets.kv.v1.create_or_update_secret("db", {}, mount_point="kv1")
    assert info.value.errors == ["missing data fields"]


def test_no_mount_is_404_no_handler(vault: VaultDevServer) -> None:
    c = hvac.Client(url=vault.url, token=vault.root_token)
    with pytest.raises(hvac.exceptions.InvalidPath) as info:
        c.secrets.kv.v1.read_secret("x/y", mount_point="nomount")
    assert info.value.errors == ['no handler for route "nomount/x/y". route entry not found.']
