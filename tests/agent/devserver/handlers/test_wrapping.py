"""Response wrapping and the AppRole login forms the agent and reader use, through hvac.

The answers' shapes are compared with real OpenBao in ``test_differential``; these tests show the
Python helpers (``wrapped_secret_id``, ``bind_secret_id=False``) and single use.
"""

from __future__ import annotations

from collections.abc import Iterator

import hvac
import pytest
from secrets_agent.devserver import VaultDevServer


@pytest.fixture
def vault() -> Iterator[VaultDevServer]:
    with VaultDevServer() as server:
        server.put_secret("app", {"password": "pw"})
        yield server


def test_a_wrapped_secret_id_unwraps_once_and_logs_in(vault: VaultDevServer) -> None:
    role_id, _ = vault.enable_approle("agent", paths=["secret/data/app"])
    wrapping_token = vault.wrapped_secret_id("agent", wrap_ttl=60)
    client = hvac.Client(url=vault.url, token=wrapping_token)
    unwrapped = client.sys.unwrap()["data"]
    assert set(unwrapped) == {"secret_id", "secret_id_accessor", "secret_id_num_uses",
                              "secret_id_ttl"}  # fmt: skip
    with pytest.raises(hvac.exceptions.InvalidRequest, match="wrapping token is not valid"):
        client.sys.unwrap()
    login = hvac.Client(url=vault.url)
    login.auth.approle.login(role_id=role_id, secret_id=unwrapped["secret_id"])
    assert login.secrets.kv.v2.read_secret_version("app", raise_on_deleted_version=True)["data"][
        "data"
    ] == {"password": "pw"}


def test_a_wrapping_token_shown_elsewhere_is_spent(vault: VaultDevServer) -> None:
    vault.enable_approle("agent")
    wrapping_token = vault.wrapped_secret_id("agent")
    client = hvac.Client(url=vault.url, token=wrapping_token)
    with pytest.raises(hvac.exceptions.Forbidden):
        client.secrets.kv.v2.read_secret_version("app", raise_on_deleted_version=True)
    with pytest.raises(hvac.exceptions.InvalidRequest):
        client.sys.unwrap()


def test_a_role_without_bound_secret_id_logs_in_with_the_role_id_only(
    vault: VaultDevServer,
) -> None:
    role_id, _ = vault.enable_approle("agent", paths=["secret/data/app"], bind_secret_id=False)
    client = hvac.Client(url=vault.url)
    client.auth.approle.login(role_id=role_id)
    assert client.secrets.kv.v2.read_secret_version("app", raise_on_deleted_version=True)["data"][
        "data"
    ] == {"password": "pw"}
    bound_id, _ = vault.enable_approle("bound")
    with pytest.raises(hvac.exceptions.InvalidRequest, match="missing secret_id"):
        hvac.Client(url=vault.url).auth.approle.login(role_id=bound_id)


def test_a_secret_id_with_uses_is_gone_after_them(vault: VaultDevServer) -> None:
    role_id, _ = vault.enable_approle("agent")
    root = hvac.Client(url=vault.url, token=vault.root_token)
    root.write_data("auth/approle/role/agent/custom-secret-id",
                    data={"secret_id": "twice", "num_uses": 2})  # fmt: skip
    for _ in range(2):
        hvac.Client(url=vault.url).auth.approle.login(role_id=role_id, secret_id="twice")
    with pytest.raises(hvac.exceptions.InvalidRequest, match="invalid role or secret ID"):
        hvac.Client(url=vault.url).auth.approle.login(role_id=role_id, secret_id="twice")


def test_a_default_policy_token_reads_nothing(vault: VaultDevServer) -> None:
    root = hvac.Client(url=vault.url, token=vault.root_token)
    token = root.auth.token.create(policies=["default"], ttl="1h")["auth"]["client_token"]
    client = hvac.Client(url=vault.url, token=token)
    with pytest.raises(hvac.exceptions.Forbidden) as info:
        client.secrets.kv.v2.read_secret_version("app", raise_on_deleted_version=True)
    assert info.value.errors == ["1 error occurred:\n\t* permission denied\n\n"]
    assert client.auth.token.lookup_self()["data"]["policies"] == ["default"]


def test_a_denied_unwrap_keeps_the_wrapped_answer(vault: VaultDevServer) -> None:
    vault.enable_approle("agent")
    wrapping_token = vault.wrapped_secret_id("agent")
    vault.deny("sys/wrapping/unwrap")
    client = hvac.Client(url=vault.url, token=wrapping_token)
    with pytest.raises(hvac.exceptions.Forbidden):
        client.sys.unwrap()
    vault.clear_faults()
    assert client.sys.unwrap()["data"]["secret_id"]
