"""AppRole logins against a real OpenBao server: role_id only, and a response-wrapped secret_id."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import hvac
import pytest
from libs.secrets._core.vault_login import AppRoleLogin, TokenKeeper


def _wrapped_secret_id(openbao: Any, role: str, mount: str = "approle") -> str:
    answer = openbao.client().adapter.post(
        f"/v1/auth/{mount}/role/{role}/secret-id", headers={"X-Vault-Wrap-TTL": "60s"}
    )
    return str(answer["wrap_info"]["token"])


def test_role_id_only_when_the_role_binds_no_secret_id(openbao: Any) -> None:
    role_id, _ = openbao.enable_approle(
        "approle", "core-roleonly", "default", bind_secret_id=False,
        token_bound_cidrs=["127.0.0.1/32"], secret_id_bound_cidrs=["127.0.0.1/32"],
    )  # fmt: skip
    keeper = TokenKeeper(hvac.Client(url=openbao.url), AppRoleLogin(role_id=role_id))
    keeper.ensure()
    assert keeper.token and openbao.client().auth.token.lookup(keeper.token)["data"]["ttl"] > 0


def test_a_wrapped_secret_id_is_unwrapped_once(openbao: Any, tmp_path: Path) -> None:
    role_id, _ = openbao.enable_approle("approle", "core-wrapped", "default")
    secret_id_file = tmp_path / "secret_id"
    secret_id_file.write_text(_wrapped_secret_id(openbao, "core-wrapped"))
    strategy = AppRoleLogin(role_id=role_id, secret_id_file=secret_id_file, secret_id_wrapped=True)
    client = hvac.Client(url=openbao.url)
    keeper = TokenKeeper(client, strategy)
    keeper.ensure()
    first = keeper.token
    assert first
    # A second login reuses the unwrapped secret_id: the spent wrapping token is not sent.
    keeper.login()
    assert keeper.token and keeper.token != first
    # A newly delivered wrapping token is unwrapped when it appears.
    secret_id_file.write_text(_wrapped_secret_id(openbao, "core-wrapped"))
    keeper.login()
    assert keeper.token
    assert (
        "secret_id"
        not in repr(strategy).replace("secret_id_file", "").replace("secret_id_wrapped", "")
        or strategy.secret_id is None
    )


def test_a_spent_wrapping_token_fails_the_login(openbao: Any) -> None:
    role_id, _ = openbao.enable_approle("approle", "core-spent", "default")
    wrapping = _wrapped_secret_id(openbao, "core-spent")
    openbao.client(token=wrapping).sys.unwrap()  # someone else unwrapped it first
    strategy = AppRoleLogin(role_id=role_id, secret_id=wrapping, secret_id_wrapped=True)
    keeper = TokenKeeper(hvac.Client(url=openbao.url), strategy)
    with pytest.raises((hvac.exceptions.InvalidRequest, hvac.exceptions.Forbidden)):
        keeper.ensure()
    assert keeper.token is None
