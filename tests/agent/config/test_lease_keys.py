"""The ``[[secrets]]`` keys of leased secrets (``config.lease_keys``)."""

from __future__ import annotations

import pytest
from secrets_agent.config.load import ConfigError, parse_config

BASE = {
    "agent": {"output_dir": "/run/secrets"},
    "backend": {
        "type": "vault",
        "address": "http://127.0.0.1:8200",
        "auth": {"method": "token", "token": "t"},
    },
}


def _parse(secret: dict[str, object], backend: dict[str, object] | None = None) -> object:
    return parse_config({**BASE, **({"backend": backend} if backend else {}), "secrets": [secret]})


def test_lease_keys_are_parsed() -> None:
    config = _parse(
        {
            "path": "pki/issue/web",
            "kind": "lease",
            "method": "POST",
            "data": {"common_name": "a.example.test", "ttl": "1h", "exclude_cn_from_sans": True},
            "renew_at": 0.5,
            "replace_margin": "1m",
            "revoke_on_stop": True,
        }
    )
    spec = config.secrets[0]  # type: ignore[attr-defined]
    assert spec.kind == "lease" and spec.method == "POST" and spec.renew_at == 0.5
    assert spec.data == (
        ("common_name", "a.example.test"),
        ("ttl", "1h"),
        ("exclude_cn_from_sans", "true"),
    )
    assert spec.replace_margin == 60.0 and spec.revoke_on_stop and not spec.revoke_replaced


@pytest.mark.parametrize(
    ("secret", "problem"),
    [
        ({"path": "a", "renew_at": 0.5}, 'secrets[0].renew_at: only used with kind = "lease"'),
        ({"path": "a", "kind": "lease", "renew_at": 1.5}, "secrets[0].renew_at: must be between"),
        (
            {"path": "a", "kind": "lease", "data": {"x": "1"}},
            'secrets[0].data: only used with method = "POST"',
        ),
        (
            {"path": "a", "kind": "lease", "method": "PUT"},
            "secrets[0].method: must be one of GET, POST",
        ),
        (
            {"path": "a", "kind": "lease", "method": "POST", "data": {"x": [1]}},
            "secrets[0].data.x: must be",
        ),
    ],
)
def test_bad_lease_keys_are_one_line_errors(secret: dict[str, object], problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        _parse(secret)
    assert problem in str(caught.value)


def test_leases_need_the_vault_backend() -> None:
    with pytest.raises(ConfigError) as caught:
        _parse({"path": "a", "kind": "lease"}, {"type": "aws", "region": "us-east-1"})
    assert 'secrets[0].kind: "lease" is only used with the vault backend' in str(caught.value)
