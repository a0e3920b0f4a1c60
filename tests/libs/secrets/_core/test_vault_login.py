"""Token lifetime rules with a recording client and a fake clock (the real server is exercised
in tests/libs/secrets/test_vault_openbao.py and tests/agent/sources/vault/test_openbao.py)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from libs.secrets._core.vault_login import (
    REFUSAL_RELOGIN_INTERVAL,
    AppRoleLogin,
    Lease,
    StaticToken,
    TokenKeeper,
    auth_mount,
    lease_of_login,
    lease_of_lookup,
)


class Forbidden(Exception):  # noqa: N818 (hvac's name)
    """Named as hvac's 403 exception."""


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class FakeClient:
    """Records logins and renewals; answers as Vault would."""

    def __init__(self, ttl: int = 60, renewable: bool = True) -> None:
        self.token: str | None = None
        self.logins = 0
        self.renewals = 0
        self.ttl = ttl
        self.renewable = renewable
        self.renew_error: Exception | None = None
        self.lookup_error: Exception | None = None
        self.lookup_data: dict[str, Any] = {}
        self.auth = SimpleNamespace(
            approle=SimpleNamespace(login=self._login),
            token=SimpleNamespace(renew_self=self._renew, lookup_self=self._lookup),
        )

    def _login(self, **kwargs: Any) -> dict[str, Any]:
        self.logins += 1
        self.mount = kwargs["mount_point"]
        block = {"client_token": f"t{self.logins}", "lease_duration": self.ttl}
        return {"auth": {**block, "renewable": self.renewable}}

    def _renew(self) -> dict[str, Any]:
        self.renewals += 1
        if self.renew_error is not None:
            raise self.renew_error
        return {"auth": {"lease_duration": self.ttl, "renewable": True}}

    def _lookup(self) -> dict[str, Any]:
        if self.lookup_error is not None:
            raise self.lookup_error
        return {"data": self.lookup_data}


def _keeper(client: FakeClient, clock: Clock) -> TokenKeeper:
    return TokenKeeper(client, AppRoleLogin(role_id="r", secret_id="s"), clock=clock)


def test_lookup_expire_time_decides_whether_a_token_expires() -> None:
    assert lease_of_lookup({"ttl": 0, "expire_time": None}) == Lease(None, False)
    # The last second of a token's life is not "never expires".
    assert lease_of_lookup({"ttl": 0, "expire_time": "2026-01-01T00:00:00Z"}) == Lease(0.0, False)
    assert lease_of_lookup({"ttl": 30, "expire_time": "x", "renewable": True}) == Lease(30.0, True)
    assert lease_of_login({"lease_duration": 0}) == Lease(None, False)


def test_renewal_at_two_thirds_then_relogin_when_refused() -> None:
    client, clock = FakeClient(ttl=60), Clock()
    keeper = _keeper(client, clock)
    keeper.ensure()
    assert (client.logins, keeper.seconds_until_due()) == (1, 40.0)
    clock.now += 39
    keeper.ensure()
    assert client.renewals == 0
    clock.now += 1
    keeper.ensure()
    assert (client.renewals, client.logins, keeper.token) == (1, 1, "t1")
    clock.now += 40
    client.renew_error = Forbidden()
    keeper.ensure()
    assert (client.renewals, client.logins, keeper.token) == (2, 2, "t2")


def test_a_failed_renewal_of_a_live_token_is_retried_soon() -> None:
    client, clock = FakeClient(ttl=60), Clock()
    keeper = _keeper(client, clock)
    keeper.ensure()
    clock.now += 40
    client.renew_error = ConnectionError("down")
    with pytest.raises(ConnectionError):
        keeper.ensure()
    assert keeper.token == "t1" and keeper.seconds_until_due() == 5.0


def test_a_non_renewable_token_is_replaced_at_ninety_percent() -> None:
    client, clock = FakeClient(ttl=100, renewable=False), Clock()
    keeper = _keeper(client, clock)
    keeper.ensure()
    clock.now += 90
    keeper.ensure()
    assert (client.renewals, client.logins) == (0, 2)


def test_refusals_log_in_again_at_most_once_per_interval() -> None:
    client, clock = FakeClient(), Clock()
    keeper = _keeper(client, clock)
    keeper.ensure()
    assert keeper.replace_refused("t1") is True and keeper.token == "t2"
    assert keeper.replace_refused("t1") is True  # already replaced by another caller
    assert keeper.replace_refused("t2") is False  # a policy refusal: no login storm
    clock.now += REFUSAL_RELOGIN_INTERVAL
    assert keeper.replace_refused("t2") is True and client.logins == 3


def test_static_token_without_lookup_permission_has_an_unknown_ttl(tmp_path: Path) -> None:
    client, clock = FakeClient(), Clock()
    client.lookup_error = Forbidden()
    token_file = tmp_path / "token"
    token_file.write_text("s.one\n")
    keeper = TokenKeeper(client, StaticToken(token_file=token_file), clock=clock)
    keeper.ensure()
    assert (keeper.token, keeper.seconds_until_due()) == ("s.one", None)
    assert keeper.replace_refused("s.one") is False  # same file content: nothing to try
    token_file.write_text("s.two\n")
    assert keeper.replace_refused("s.one") is True and client.token == "s.two"
    client.lookup_error = ConnectionError("down")
    with pytest.raises(ConnectionError):  # not a refusal: the login itself failed
        keeper.login()
    assert keeper.token is None


@pytest.mark.parametrize(
    ("mount", "name"),
    [(None, "approle"), ("approle-x", "approle-x"), ("auth/approle-x", "approle-x"), ("/x/", "x")],
)
def test_auth_mount(mount: str | None, name: str) -> None:
    assert auth_mount(mount, "approle") == name


def test_a_changed_token_file_is_used_at_once_whatever_the_interval(tmp_path: Path) -> None:
    client, clock = FakeClient(), Clock()
    token_file = tmp_path / "token"
    token_file.write_text("s.one")
    keeper = TokenKeeper(client, StaticToken(token_file=token_file), clock=clock)
    keeper.ensure()
    for new in ("s.two", "s.three"):  # two rotations within one interval
        token_file.write_text(new)
        assert keeper.replace_refused(keeper.token) is True and keeper.token == new


def test_a_token_the_server_calls_invalid_is_replaced_whatever_the_interval() -> None:
    client, clock = FakeClient(), Clock()
    keeper = _keeper(client, clock)
    keeper.ensure()
    assert keeper.replace_refused("t1") is True
    assert keeper.replace_refused("t2") is False
    assert keeper.replace_refused("t2", said_invalid=True) is True and keeper.token == "t3"


def test_a_changed_secret_id_file_is_used_at_once_whatever_the_interval(tmp_path: Path) -> None:
    client, clock = FakeClient(), Clock()
    secret_file = tmp_path / "secret_id"
    secret_file.write_text("sid-1")
    strategy = AppRoleLogin(role_id="r", secret_id_file=secret_file)
    keeper = TokenKeeper(client, strategy, clock=clock)
    keeper.ensure()
    assert keeper.replace_refused("t1") is True  # the first refusal-driven login
    assert keeper.replace_refused("t2") is False  # the same file: wait out the interval
    secret_file.write_text("sid-2")
    assert keeper.replace_refused("t2") is True and keeper.token == "t3"
    assert strategy._file_content == "sid-2"
    assert "sid-2" not in repr(strategy)


def test_strategies_keep_credentials_out_of_repr() -> None:
    assert "s.secret" not in repr(StaticToken(token="s.secret"))
    shown = repr(AppRoleLogin(role_id="role-x", secret_id="sid-x"))
    assert "role-x" not in shown and "sid-x" not in shown
