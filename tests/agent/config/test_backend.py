"""``[backend]`` keys of the Vault backend: the address list and AppRole's login options."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from secrets_agent.config.load import ConfigError, VaultBackendConfig, parse_config


def _config(address: object = "http://127.0.0.1:8200", **auth: object) -> dict[str, Any]:
    backend: dict[str, object] = {
        "type": "vault",
        "auth": auth or {"method": "token", "token": "t"},
    }
    if address is not None:
        backend["address"] = address
    return {"agent": {"output_dir": "/run/secrets"}, "backend": backend, "secrets": [{"path": "a"}]}


def _backend(data: dict[str, Any], environ: dict[str, str] | None = None) -> VaultBackendConfig:
    backend = parse_config(data, environ=environ or {}).backend
    assert isinstance(backend, VaultBackendConfig)
    return backend


def _problems(data: dict[str, Any], environ: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(data, environ=environ or {})
    return info.value.problems


def test_one_address_is_the_only_one() -> None:
    backend = _backend(_config("http://127.0.0.1:8200/"))
    assert backend.address == "http://127.0.0.1:8200"
    assert backend.all_addresses == ("http://127.0.0.1:8200",)


def test_a_list_of_addresses_keeps_its_order_without_repeats() -> None:
    urls = ["https://v1:8200", "https://v2:8200/", "https://v3:8200", "https://v1:8200"]
    backend = _backend(_config(urls))
    assert backend.address == "https://v1:8200"
    assert backend.all_addresses == ("https://v1:8200", "https://v2:8200", "https://v3:8200")


def test_vault_addr_with_commas_is_a_list() -> None:
    env = {"VAULT_ADDR": "http://127.0.0.1:1, http://127.0.0.1:2"}
    backend = _backend(_config(None), env)
    assert backend.all_addresses == ("http://127.0.0.1:1", "http://127.0.0.1:2")


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ([], "backend.address: must name at least one URL"),
        (["http://a:1", "vault:8200"], "backend.address: item 2 must be an http://"),
        (["http://a:1", 3], "backend.address: item 2 must be an http://"),
        ("vault:8200", "backend.address: must be an http:// or https:// URL"),
    ],
)
def test_bad_addresses_are_named(address: object, expected: str) -> None:
    assert [p for p in _problems(_config(address)) if p.startswith(expected)]


def test_a_bad_vault_addr_is_named() -> None:
    problems = _problems(_config(None), {"VAULT_ADDR": "http://a:1,b:2"})
    assert any(p.startswith("backend.address: $VAULT_ADDR must hold") for p in problems)


def test_secret_id_wrapped_marks_the_secret_id_as_a_wrapping_token() -> None:
    data = _config(
        method="approle", role_id="r", secret_id_file="/run/c/sid", secret_id_wrapped=True
    )
    auth = _backend(data).auth
    assert auth.secret_id_wrapped and auth.secret_id_file == Path("/run/c/sid")


def test_role_id_only_needs_no_secret_id_even_with_a_credentials_directory(
    tmp_path: Path,
) -> None:
    data = _config(method="approle", role_id="r", role_id_only=True)
    auth = _backend(data, {"CREDENTIALS_DIRECTORY": str(tmp_path)}).auth
    assert auth.role_id_only
    assert auth.secret_id is None and auth.secret_id_file is None


def test_role_id_only_refuses_a_secret_id() -> None:
    data = _config(method="approle", role_id="r", role_id_only=True, secret_id_file="/x")
    problems = _problems(data)
    assert problems == ["backend.auth.secret_id_file: not used with role_id_only = true"]


def test_without_secret_id_the_error_names_role_id_only() -> None:
    problems = _problems(_config(method="approle", role_id="r"))
    assert len(problems) == 1 and "role_id_only = true" in problems[0]


def test_the_wrapping_flag_must_be_a_boolean() -> None:
    data = _config(method="approle", role_id="r", secret_id="s", secret_id_wrapped="yes")
    expected = "backend.auth.secret_id_wrapped: must be true or false, not a string"
    assert _problems(data) == [expected]
