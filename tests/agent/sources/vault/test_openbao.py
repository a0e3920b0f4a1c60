"""The Vault source against a real OpenBao server: token lifecycle, and the same answers
classified the same way as by the reader."""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Any

import pytest
from libs.secrets import VaultSecretManager
from libs.secrets._core.failures import FailureKind
from libs.secrets.errors import SecretAccessDeniedError, SecretNotFoundError
from secrets_agent.config.load import AuthConfig, SecretSpec, VaultBackendConfig, parse_config
from secrets_agent.render.errors import RenderError
from secrets_agent.render.formats import render
from secrets_agent.sources import create_source
from secrets_agent.sources.result import AuthenticationError, SecretData, SourceError
from secrets_agent.sources.vault.source import VaultSource


def _source(openbao: Any, auth: AuthConfig) -> VaultSource:
    source = create_source(VaultBackendConfig(address=openbao.url, auth=auth, timeout=5.0))
    assert isinstance(source, VaultSource)
    return source


def test_a_revoked_approle_token_is_replaced_by_a_new_login(openbao: Any) -> None:
    """OpenBao answers a revoked token with a bare 403 "permission denied", no "invalid token"."""
    openbao.put_secret("agent/revoked", {"k": "v"})
    policy = openbao.policy("agent-revoked", "secret/data/agent/revoked")
    role_id, secret_id = openbao.enable_approle("approle", "agent-revoked", policy)
    source = _source(openbao, AuthConfig(method="approle", role_id=role_id, secret_id=secret_id))
    try:
        assert isinstance(source.fetch_many(["agent/revoked"])["agent/revoked"], SecretData)
        first = source.auth.token
        openbao.revoke_token(first)
        assert isinstance(source.fetch_many(["agent/revoked"])["agent/revoked"], SecretData)
        assert source.auth.token != first
    finally:
        source.close()


def test_maintain_renews_the_token_before_it_expires(openbao: Any) -> None:
    openbao.put_secret("agent/renew", {"k": "v"})
    policy = openbao.policy("agent-renew", "secret/data/agent/renew")
    role_id, secret_id = openbao.enable_approle(
        "approle", "agent-renew", policy, token_ttl="4s", token_max_ttl="1m"
    )
    source = _source(openbao, AuthConfig(method="approle", role_id=role_id, secret_id=secret_id))
    try:
        assert isinstance(source.fetch_many(["agent/renew"])["agent/renew"], SecretData)
        token = source.auth.token
        due = source.maintain()
        assert due is not None and due <= 4 * 2 / 3
        for _ in range(18):  # 4.5 s in all: past the 4 s TTL the token started with
            time.sleep(0.25)
            source.maintain()
        assert source.auth.token == token
        assert isinstance(source.fetch_many(["agent/renew"])["agent/renew"], SecretData)
    finally:
        source.close()


def test_a_token_that_may_not_look_itself_up_is_accepted(openbao: Any, tmp_path: Path) -> None:
    openbao.put_secret("agent/nolookup", {"k": "v"})
    policy = openbao.policy("agent-nolookup", "secret/data/agent/nolookup")
    token_file = tmp_path / "token"
    token_file.write_text(openbao.create_token(policy, no_default_policy=True))
    source = _source(openbao, AuthConfig(method="token", token_file=token_file))
    try:
        assert isinstance(source.fetch_many(["agent/nolookup"])["agent/nolookup"], SecretData)
    finally:
        source.close()


@pytest.mark.parametrize(
    ("path", "kind", "reader_error"),
    [
        ("agent/absent", FailureKind.NOT_FOUND, SecretNotFoundError),
        ("agent/private", FailureKind.DENIED, SecretAccessDeniedError),
    ],
)
def test_reader_and_agent_classify_openbaos_answers_alike(
    openbao: Any, tmp_path: Path, path: str, kind: FailureKind, reader_error: type[Exception]
) -> None:
    openbao.put_secret("agent/private", {"k": "v"})
    token = openbao.create_token(openbao.policy("agent-some", "secret/data/agent/absent"))
    source = _source(openbao, AuthConfig(method="token", token=token))
    reader = VaultSecretManager(
        {"address": openbao.url, "token": token, "secrets_dir": str(tmp_path)}, ttl_seconds=0
    )
    try:
        result = source.fetch_many([path])[path]
        assert isinstance(result, SourceError) and result.kind is kind
        with pytest.raises(reader_error):
            reader.get_secret(f"{path}/k")
    finally:
        source.close()
        reader.close()


def test_a_login_failure_carries_the_servers_reason(openbao: Any) -> None:
    role_id, _ = openbao.enable_approle("approle", "agent-bad", "default")
    source = _source(openbao, AuthConfig(method="approle", role_id=role_id, secret_id="wrong"))
    try:
        result = source.fetch_many(["agent/x"])["agent/x"]
    finally:
        source.close()
    assert isinstance(result, AuthenticationError)
    assert "approle login" in str(result) and "invalid" in str(result)
    assert "wrong" not in str(result)


def test_an_auth_mount_written_with_its_auth_prefix(openbao: Any) -> None:
    openbao.put_secret("agent/mount", {"k": "v"})
    policy = openbao.policy("agent-mount", "secret/data/agent/mount")
    role_id, secret_id = openbao.enable_approle("approle-agent", "agent-mount", policy)
    auth = AuthConfig(
        method="approle", role_id=role_id, secret_id=secret_id, mount="auth/approle-agent"
    )
    source = _source(openbao, auth)
    try:
        assert isinstance(source.fetch_many(["agent/mount"])["agent/mount"], SecretData)
    finally:
        source.close()


def test_an_expired_token_is_replaced_from_the_token_file(openbao: Any, tmp_path: Path) -> None:
    """A non-renewable token runs out; the new token an operator writes is read at once."""
    openbao.put_secret("agent/expiring", {"k": "v"})
    policy = openbao.policy("agent-expiring", "secret/data/agent/expiring")
    token_file = tmp_path / "token"
    token_file.write_text(openbao.create_token(policy, ttl="2s", renewable=False))
    source = _source(openbao, AuthConfig(method="token", token_file=token_file))
    try:
        assert isinstance(source.fetch_many(["agent/expiring"])["agent/expiring"], SecretData)
        time.sleep(2.5)
        expired = source.fetch_many(["agent/expiring"])["agent/expiring"]
        assert isinstance(expired, SourceError) and expired.kind is FailureKind.DENIED
        token_file.write_text(openbao.create_token(policy))
        assert isinstance(source.fetch_many(["agent/expiring"])["agent/expiring"], SecretData)
    finally:
        source.close()


def test_a_wrapped_secret_id_from_the_config_is_unwrapped_once(
    openbao: Any, tmp_path: Path
) -> None:
    """``secret_id_wrapped = true``: the file holds a wrapping token, unwrapped at the first
    login; a re-login after the token died uses the secret_id kept in memory."""
    openbao.put_secret("agent/wrapped", {"k": "v"})
    policy = openbao.policy("agent-wrapped", "secret/data/agent/wrapped")
    role_id, _ = openbao.enable_approle("approle", "agent-wrapped", policy)
    wrapping_file = tmp_path / "secret_id"
    wrapping_file.write_text(openbao.wrapped_secret_id("approle", "agent-wrapped"))
    config = parse_config(
        {
            "agent": {"output_dir": str(tmp_path / "out"), "allow_non_tmpfs": True},
            "backend": {
                "type": "vault",
                "address": openbao.url,
                "auth": {
                    "method": "approle",
                    "role_id": role_id,
                    "secret_id_file": str(wrapping_file),
                    "secret_id_wrapped": True,
                },
            },
            "secrets": [{"path": "agent/wrapped"}],
        },
        environ={},
    )
    assert isinstance(config.backend, VaultBackendConfig)
    source = _source(openbao, config.backend.auth)
    try:
        assert isinstance(source.fetch_many(["agent/wrapped"])["agent/wrapped"], SecretData)
        first = source.auth.token
        openbao.revoke_token(first)  # the wrapping token is spent: a re-login must not need it
        assert isinstance(source.fetch_many(["agent/wrapped"])["agent/wrapped"], SecretData)
        assert source.auth.token != first
        # A new wrapping token in the file is a new credential: used at the next refusal at
        # once (no wait for the refusal-login interval), unwrapped and so spent.
        second = openbao.wrapped_secret_id("approle", "agent-wrapped")
        wrapping_file.write_text(second)
        openbao.revoke_token(source.auth.token)
        assert isinstance(source.fetch_many(["agent/wrapped"])["agent/wrapped"], SecretData)
        with pytest.raises(Exception, match="wrapping token"):
            openbao.client().sys.unwrap(second)
    finally:
        source.close()


def test_a_spent_wrapping_token_fails_with_the_servers_reason(openbao: Any) -> None:
    role_id, _ = openbao.enable_approle("approle", "agent-spent", "default")
    wrapping = openbao.wrapped_secret_id("approle", "agent-spent")
    openbao.client().sys.unwrap(wrapping)  # someone else unwrapped it first
    auth = AuthConfig(method="approle", role_id=role_id, secret_id=wrapping, secret_id_wrapped=True)
    source = _source(openbao, auth)
    try:
        result = source.fetch_many(["agent/x"])["agent/x"]
    finally:
        source.close()
    assert isinstance(result, AuthenticationError)
    assert "approle login" in str(result) and "wrapping token" in str(result)
    assert wrapping not in str(result)


def test_a_role_without_bound_secret_id_logs_in_with_role_id_only(
    openbao: Any, tmp_path: Path
) -> None:
    openbao.put_secret("agent/roleonly", {"k": "v"})
    policy = openbao.policy("agent-roleonly", "secret/data/agent/roleonly")
    role_id, _ = openbao.enable_approle(
        "approle", "agent-roleonly", policy, bind_secret_id=False,
        token_bound_cidrs=["127.0.0.1/32"],  # a role without secret_id needs a constraint
    )  # fmt: skip
    role_id_file = tmp_path / "role_id"
    role_id_file.write_text(role_id)
    config = parse_config(
        {
            "agent": {"output_dir": str(tmp_path / "out"), "allow_non_tmpfs": True},
            "backend": {
                "type": "vault",
                "address": openbao.url,
                "auth": {
                    "method": "approle",
                    "role_id_file": str(role_id_file),
                    "role_id_only": True,
                },
            },
            "secrets": [{"path": "agent/roleonly"}],
        },
        environ={"CREDENTIALS_DIRECTORY": str(tmp_path)},  # no secret_id fallback used
    )
    assert isinstance(config.backend, VaultBackendConfig)
    assert config.backend.auth.secret_id_file is None
    source = _source(openbao, config.backend.auth)
    try:
        assert isinstance(source.fetch_many(["agent/roleonly"])["agent/roleonly"], SecretData)
    finally:
        source.close()


def test_a_value_over_one_mib_is_read_and_limited_only_by_max_bytes(openbao: Any) -> None:
    """The server takes a 3 MiB value; the agent reads it, and what it writes is bounded by the
    documented per-secret ``max_bytes`` (default 1 MiB), which names itself when it refuses."""
    value = "v" * (3 * 1024 * 1024)
    openbao.put_secret("agent/large", {"pem": value})
    source = _source(openbao, AuthConfig(method="token", token=openbao.root_token))
    try:
        data = source.fetch_many(["agent/large"])["agent/large"]
    finally:
        source.close()
    assert isinstance(data, SecretData)
    spec = SecretSpec(path="agent/large", target="large")
    with pytest.raises(RenderError, match="max_bytes"):
        render(spec, data)
    files = render(dataclasses.replace(spec, max_bytes=4 * 1024 * 1024), data)
    assert files == {"large/pem": value.encode()}


def test_format_json_keeps_the_types_openbao_stored(openbao: Any) -> None:
    stored = {"port": 5432, "tls": True, "replica": None, "ratio": 0.5, "tags": ["a"], "pw": "x"}
    openbao.put_secret("agent/typed", stored)
    source = _source(openbao, AuthConfig(method="token", token=openbao.root_token))
    try:
        data = source.fetch_many(["agent/typed"])["agent/typed"]
    finally:
        source.close()
    assert isinstance(data, SecretData)
    spec = SecretSpec(path="agent/typed", target="typed", format="json")
    assert json.loads(render(spec, data)["typed"]) == stored
    fields = render(dataclasses.replace(spec, format="fields"), data)
    assert fields["typed/port"] == b"5432" and fields["typed/replica"] == b"null"
