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


def test_delete_undelete_specific_versions(vault: VaultDevServer, client: hvac.Client) -> None:
    for value in ("a", "b", "c"):
        vault.put_secret("app", {"v": value})
    kv = client.secrets.kv.v2
    assert kv.delete_secret_versions("app", versions=[1, 2]).status_code == 204
    assert kv.read_secret_version("app", version=3, raise_on_deleted_version=True)["data"]["data"]
    with pytest.raises(hvac.exceptions.InvalidPath):
        kv.read_secret_version("app", version=1, raise_on_deleted_version=True)
    assert kv.undelete_secret_versions("app", versions=[1]).status_code == 204
    undeleted = kv.read_secret_version("app", version=1, raise_on_deleted_version=True)
    assert undeleted["data"]["data"] == {"v": "a"}
    assert undeleted["data"]["metadata"]["deletion_time"] == ""


def test_destroyed_version_raises_even_without_raise_on_deleted(
    vault: VaultDevServer, client: hvac.Client
) -> None:
    vault.put_secret("app", {"v": "a"})
    assert client.secrets.kv.v2.destroy_secret_versions("app", versions=[1]).status_code == 204
    with pytest.raises(hvac.exceptions.InvalidPath) as info:
        client.secrets.kv.v2.read_secret_version("app", raise_on_deleted_version=False)
    body = info.value.json
    assert body["data"]["data"] is None and body["mount_type"] == ""
    assert body["data"]["metadata"]["destroyed"] is True
    assert body["data"]["metadata"]["deletion_time"] == ""
    assert "errors" not in body


def test_metadata_read(vault: VaultDevServer, client: hvac.Client) -> None:
    vault.put_secret("app", {"v": "a"})
    vault.put_secret("app", {"v": "b"})
    vault.delete_secret("app")
    meta = client.secrets.kv.v2.read_secret_metadata("app")["data"]
    assert meta["current_version"] == 2 and meta["oldest_version"] == 0
    assert meta["max_versions"] == 0 and meta["cas_required"] is False
    assert meta["delete_version_after"] == "0s" and meta["custom_metadata"] is None
    assert set(meta["versions"]) == {"1", "2"}
    assert meta["versions"]["2"]["deletion_time"] != ""
    assert meta["versions"]["1"]["deletion_time"] == ""
    with pytest.raises(hvac.exceptions.InvalidPath):
        client.secrets.kv.v2.read_secret_metadata("missing")


def test_metadata_update_max_versions_prunes(vault: VaultDevServer, client: hvac.Client) -> None:
    client.secrets.kv.v2.update_metadata("app", max_versions=2, custom_metadata={"team": "x"})
    for value in ("a", "b", "c"):
        vault.put_secret("app", {"v": value})
    meta = client.secrets.kv.v2.read_secret_metadata("app")["data"]
    assert set(meta["versions"]) == {"2", "3"} and meta["oldest_version"] == 2
    read = client.secrets.kv.v2.read_secret_version("app", raise_on_deleted_version=True)
    assert read["data"]["metadata"]["custom_metadata"] == {"team": "x"}


def test_list_with_list_verb(vault: VaultDevServer, client: hvac.Client) -> None:
    for path in ("app/a", "app/b", "app/sub/c", "other"):
        vault.put_secret(path, {"k": "v"})
    assert client.secrets.kv.v2.list_secrets("app")["data"]["keys"] == ["a", "b", "sub/"]
    assert client.secrets.kv.v2.list_secrets("")["data"]["keys"] == ["app/", "other"]
    assert ("LIST", "/v1/secret/metadata/app") in vault.requests


def test_list_with_get_list_true(vault: VaultDevServer) -> None:
    vault.put_secret("app/a", {"k": "v"})
    strict = hvac.Client(url=vault.url, token=vault.root_token, strict_http=True)
    assert strict.secrets.kv.v2.list_secrets("app/")["data"]["keys"] == ["a"]
    assert vault.requests[-1][0] == "GET"


def test_list_of_empty_folder_is_404(client: hvac.Client) -> None:
    with pytest.raises(hvac.exceptions.InvalidPath) as info:
        client.secrets.kv.v2.list_secrets("nothing-here")
    assert info.value.errors == []


def test_delete_metadata_removes_all_versions(vault: VaultDevServer, client: hvac.Client) -> None:
    vault.put_secret("app", {"v": "a"})
    resp = client.secrets.kv.v2.delete_metadata_and_all_versions("app")
    assert resp.status_code == 204
    with pytest.raises(hvac.exceptions.InvalidPath):
        client.secrets.kv.v2.read_secret_metadata("app")
    with pytest.raises(hvac.exceptions.InvalidPath):
        client.secrets.kv.v2.list_secrets("")


def test_v1_style_path_on_v2_mount_is_404_with_warning(client: hvac.Client) -> None:
    with pytest.raises(hvac.exceptions.InvalidPath) as info:
        client.secrets.kv.v1.read_secret("app", mount_point="secret")
    assert info.value.json["data"] is None
    assert info.value.json["warnings"][0].startswith("Invalid path for a versioned K/V")


def test_cas_required_rejects_write_without_cas(client: hvac.Client) -> None:
    client.secrets.kv.v2.update_metadata("app", cas_required=True)
    with pytest.raises(hvac.exceptions.InvalidRequest) as info:
        client.secrets.kv.v2.create_or_update_secret("app", {"a": "1"})
    assert info.value.errors == ["check-and-set parameter required for this call"]


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # hvac reads with the default
def test_patch_merges_into_latest_version(vault: VaultDevServer, client: hvac.Client) -> None:
    vault.put_secret("app", {"user": "u", "password": "p"})
    client.secrets.kv.v2.patch("app", {"password": "q"})
    read = client.secrets.kv.v2.read_secret_version("app", raise_on_deleted_version=True)
    assert read["data"]["data"] == {"user": "u", "password": "q"}
    assert read["data"]["metadata"]["version"] == 2


def test_put_secret_copies_and_validates(vault: VaultDevServer, client: hvac.Client) -> None:
    data = {"nested": {"k": "v"}}
    vault.put_secret("app", data)
    data["nested"]["k"] = "changed"
    read = client.secrets.kv.v2.read_secret_version("app", raise_on_deleted_version=True)
    assert read["data"]["data"] == {"nested": {"k": "v"}}
    with pytest.raises(TypeError):
        vault.put_secret("bad", {"k": object()})
    with pytest.raises(KeyError):
        vault.put_secret("app", {"k": "v"}, mount="nomount")
