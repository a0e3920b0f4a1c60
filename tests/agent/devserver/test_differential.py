"""The dev server against real OpenBao: the same requests to both, the same answers.

One scenario (KV v2 and v1, tokens, token roles, periodic and max-TTL tokens, response wrapping,
AppRole with secret-id accessors and metadata, seal) is sent step by step to a fresh dev server in
its OpenBao flavour and to a fresh ``bao server -dev``, both with the root token ``root``. Each
step compares the HTTP status, the *shape* of the JSON body (every key, recursively, with the JSON
type of its value; never the values, which are ids and times) and the ``errors`` texts. Nothing is
reworded and nothing is forgiven. The Vault flavour's few other words (``invalid token``,
``mount_type``) are shown at the end.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from openbao_server import ROOT_TOKEN, started_for_tests
from secrets_agent.devserver import VaultDevServer

# The dead-token text of current HashiCorp Vault (>= 1.17), and what OpenBao says.
VAULT_INVALID_TOKEN = "2 errors occurred:\n\t* permission denied\n\t* invalid token\n\n"
OPENBAO_DENIED = "permission denied"

Answer = tuple[int, Any]


@dataclass(frozen=True)
class Step:
    """One request: ``body`` and ``token`` may be functions of the side's earlier answers."""

    name: str
    method: str
    path: str
    body: object = None
    token: object = ROOT_TOKEN
    wrap_ttl: str | None = None


def _app_token(seen: dict[str, Answer]) -> str:
    return str(seen["token-create"][1]["auth"]["client_token"])


def _approle(
    secret_id: str | None, role: str = "approle-role-id", issued: str = "approle-secret-id"
) -> Callable[[dict[str, Answer]], dict[str, str]]:
    """A login body: ``role``'s role_id and ``secret_id`` ("" = the one ``issued`` gave)."""

    def body(seen: dict[str, Answer]) -> dict[str, str]:
        login = {"role_id": seen[role][1]["data"]["role_id"]}
        if secret_id is not None:
            login["secret_id"] = secret_id or seen[issued][1]["data"]["secret_id"]
        return login

    return body


def _wrapping_token(step: str) -> Callable[[dict[str, Answer]], str]:
    return lambda seen: str(seen[step][1]["wrap_info"]["token"])


def _field(step: str, key: str, name: str) -> Callable[[dict[str, Answer]], dict[str, str]]:
    """A body ``{name: <data[key] of step's answer>}``."""
    return lambda seen: {name: seen[step][1]["data"][key]}


def _token_of(step: str) -> Callable[[dict[str, Answer]], str]:
    return lambda seen: str(seen[step][1]["auth"]["client_token"])


WRAP = "60s"
ROLE_R2 = {"token_policies": ["default"], "token_ttl": "1h", "token_max_ttl": "2h",
           "secret_id_ttl": "10m", "secret_id_num_uses": 3}  # fmt: skip


STEPS = [
    Step("health", "GET", "sys/health", token=None),
    Step("seal-status", "GET", "sys/seal-status", token=None),
    Step("kv2-write", "POST", "secret/data/diff/a", {"data": {"k": "v", "n": 1}}),
    Step("kv2-write-again", "POST", "secret/data/diff/a", {"data": {"k": "v2"}}),
    Step("kv2-read", "GET", "secret/data/diff/a"),
    Step("kv2-read-version", "GET", "secret/data/diff/a?version=1"),
    Step("kv2-read-missing", "GET", "secret/data/diff/missing"),
    Step("kv2-metadata", "GET", "secret/metadata/diff/a"),
    Step("kv2-list", "LIST", "secret/metadata/diff/"),
    Step("kv2-list-query", "GET", "secret/metadata/diff/?list=true"),
    Step("kv2-delete", "DELETE", "secret/data/diff/a"),
    Step("kv2-read-deleted", "GET", "secret/data/diff/a"),
    Step("kv2-undelete", "POST", "secret/undelete/diff/a", {"versions": [2]}),
    Step("kv2-destroy", "POST", "secret/destroy/diff/a", {"versions": [1]}),
    Step("kv2-read-destroyed", "GET", "secret/data/diff/a?version=1"),
    Step(
        "kv2-metadata-write",
        "POST",
        "secret/metadata/diff/a",
        {"custom_metadata": {"owner": "ops"}, "max_versions": 5},
    ),
    Step("kv2-metadata-after", "GET", "secret/metadata/diff/a"),
    Step("kv2-read-version-missing", "GET", "secret/data/diff/a?version=9"),
    Step("kv2-delete-metadata", "DELETE", "secret/metadata/diff/a"),
    Step("kv2-read-gone", "GET", "secret/data/diff/a"),
    Step("kv1-mount", "POST", "sys/mounts/kv1", {"type": "kv"}),
    Step("kv1-write", "POST", "kv1/x", {"k": "v"}),
    Step("kv1-read", "GET", "kv1/x"),
    Step("kv1-read-missing", "GET", "kv1/missing"),
    Step("no-route", "GET", "nope/x"),
    Step("no-token", "GET", "secret/data/diff/a", token=None),
    Step("unknown-token", "GET", "secret/data/diff/a", token="not-a-token"),
    Step("token-create", "POST", "auth/token/create", {"policies": ["default"], "ttl": "1h"}),
    Step("token-lookup-self", "GET", "auth/token/lookup-self", token=_app_token),
    Step("token-renew-self", "POST", "auth/token/renew-self", {"increment": "2h"}, _app_token),
    Step("token-lookup", "POST", "auth/token/lookup", lambda seen: {"token": _app_token(seen)}),
    Step("token-outside-policy", "GET", "secret/data/diff/b", token=_app_token),
    Step("token-revoke-self", "POST", "auth/token/revoke-self", token=_app_token),
    Step("revoked-token-read", "GET", "secret/data/diff/b", token=_app_token),
    Step("revoked-token-lookup-self", "GET", "auth/token/lookup-self", token=_app_token),
    Step("approle-enable", "POST", "sys/auth/approle", {"type": "approle"}),
    Step("approle-role", "POST", "auth/approle/role/r", {"token_policies": ["default"]}),
    Step("approle-role-id", "GET", "auth/approle/role/r/role-id"),
    Step("approle-secret-id", "POST", "auth/approle/role/r/secret-id"),
    Step("approle-login", "POST", "auth/approle/login", _approle(""), None),
    Step("approle-login-wrong", "POST", "auth/approle/login", _approle("wrong"), None),
    Step("approle-login-no-secret-id", "POST", "auth/approle/login", _approle(None), None),
    Step("approle-secret-id-list", "LIST", "auth/approle/role/r/secret-id"),
    Step("login-unknown-mount", "POST", "auth/nomount/login", {"role_id": "x"}, None),
    # response wrapping
    Step("wrap", "POST", "sys/wrapping/wrap", {"a": "b"}, wrap_ttl=WRAP),
    Step("wrap-without-ttl", "POST", "sys/wrapping/wrap", {"a": "b"}),
    Step("wrap-bad-ttl", "POST", "sys/wrapping/wrap", {"a": "b"}, wrap_ttl="soon"),
    Step(
        "wrap-lookup",
        "POST",
        "sys/wrapping/lookup",
        lambda seen: {"token": _wrapping_token("wrap")(seen)},
        None,
    ),
    Step("wrapping-token-read", "GET", "secret/data/diff/a", token=_wrapping_token("wrap")),
    Step("unwrap", "POST", "sys/wrapping/unwrap", {}, _wrapping_token("wrap")),
    Step("unwrap-again", "POST", "sys/wrapping/unwrap", {}, _wrapping_token("wrap")),
    Step("unwrap-no-token", "POST", "sys/wrapping/unwrap", {}, None),
    Step(
        "wrap-lookup-spent",
        "POST",
        "sys/wrapping/lookup",
        lambda seen: {"token": _wrapping_token("wrap")(seen)},
        None,
    ),
    Step("wrap-2", "POST", "sys/wrapping/wrap", {"c": "d"}, wrap_ttl=WRAP),
    Step(
        "unwrap-by-body",
        "POST",
        "sys/wrapping/unwrap",
        lambda seen: {"token": _wrapping_token("wrap-2")(seen)},
    ),
    Step("token-create-wrapped", "POST", "auth/token/create", {"ttl": "1h"}, wrap_ttl=WRAP),
    Step(
        "unwrap-token", "POST", "sys/wrapping/unwrap", {}, _wrapping_token("token-create-wrapped")
    ),
    Step("kv2-read-missing-wrapped", "GET", "secret/data/diff/none", wrap_ttl=WRAP),
    # AppRole: role settings, wrapped secret_id, accessors, metadata, use limits
    Step("approle-role-r2", "POST", "auth/approle/role/r2", ROLE_R2),
    Step("approle-role-read", "GET", "auth/approle/role/r2"),
    Step("approle-r2-role-id", "GET", "auth/approle/role/r2/role-id"),
    Step(
        "approle-secret-id-wrapped",
        "POST",
        "auth/approle/role/r2/secret-id",
        {"metadata": '{"env": "dev"}'},
        wrap_ttl=WRAP,
    ),
    Step(
        "approle-unwrap-secret-id",
        "POST",
        "sys/wrapping/unwrap",
        {},
        _wrapping_token("approle-secret-id-wrapped"),
    ),
    Step(
        "approle-login-unwrapped",
        "POST",
        "auth/approle/login",
        _approle("", "approle-r2-role-id", "approle-unwrap-secret-id"),
        None,
    ),
    Step(
        "approle-secret-id-lookup",
        "POST",
        "auth/approle/role/r2/secret-id/lookup",
        _field("approle-unwrap-secret-id", "secret_id", "secret_id"),
    ),
    Step(
        "approle-secret-id-lookup-missing",
        "POST",
        "auth/approle/role/r2/secret-id/lookup",
        {"secret_id": "nope"},
    ),
    Step("approle-accessor-list", "LIST", "auth/approle/role/r2/secret-id"),
    Step(
        "approle-accessor-lookup",
        "POST",
        "auth/approle/role/r2/secret-id-accessor/lookup",
        _field("approle-unwrap-secret-id", "secret_id_accessor", "secret_id_accessor"),
    ),
    Step(
        "approle-accessor-lookup-missing",
        "POST",
        "auth/approle/role/r2/secret-id-accessor/lookup",
        {"secret_id_accessor": "nope"},
    ),
    Step(
        "approle-accessor-destroy",
        "POST",
        "auth/approle/role/r2/secret-id-accessor/destroy",
        _field("approle-unwrap-secret-id", "secret_id_accessor", "secret_id_accessor"),
    ),
    Step(
        "approle-accessor-destroy-missing",
        "POST",
        "auth/approle/role/r2/secret-id-accessor/destroy",
        {"secret_id_accessor": "nope"},
    ),
    Step(
        "approle-login-destroyed",
        "POST",
        "auth/approle/login",
        _approle("", "approle-r2-role-id", "approle-unwrap-secret-id"),
        None,
    ),
    Step(
        "approle-one-use",
        "POST",
        "auth/approle/role/r2/custom-secret-id",
        {"secret_id": "once-only", "num_uses": 1},
    ),
    Step(
        "approle-login-one-use",
        "POST",
        "auth/approle/login",
        _approle("once-only", "approle-r2-role-id"),
        None,
    ),
    Step(
        "approle-login-used-up",
        "POST",
        "auth/approle/login",
        _approle("once-only", "approle-r2-role-id"),
        None,
    ),
    Step(
        "approle-custom-secret-id",
        "POST",
        "auth/approle/role/r2/custom-secret-id",
        {"secret_id": "my-secret-id"},
    ),
    Step(
        "approle-secret-id-destroy",
        "POST",
        "auth/approle/role/r2/secret-id/destroy",
        {"secret_id": "my-secret-id"},
    ),
    Step("approle-role-unconstrained", "POST", "auth/approle/role/nb", {"bind_secret_id": False}),
    Step(
        "approle-role-id-only",
        "POST",
        "auth/approle/role/nb",
        {"bind_secret_id": False, "token_bound_cidrs": ["127.0.0.1/32"]},
    ),
    Step("approle-role-id-only-read", "GET", "auth/approle/role/nb"),
    Step("approle-role-id-only-id", "GET", "auth/approle/role/nb/role-id"),
    Step(
        "approle-login-role-id-only",
        "POST",
        "auth/approle/login",
        _approle(None, "approle-role-id-only-id"),
        None,
    ),
    # token roles, periodic and max-TTL tokens
    Step(
        "token-role",
        "POST",
        "auth/token/roles/tr",
        {"allowed_policies": ["default", "app"], "token_period": "1h", "orphan": True},
    ),
    Step("token-role-read", "GET", "auth/token/roles/tr"),
    Step("token-role-list", "LIST", "auth/token/roles"),
    Step("token-role-create", "POST", "auth/token/create/tr", {"policies": ["app"]}),
    Step(
        "token-role-lookup", "GET", "auth/token/lookup-self", token=_token_of("token-role-create")
    ),
    Step("token-role-refused", "POST", "auth/token/create/tr", {"policies": ["other"]}),
    Step("token-role-unknown", "POST", "auth/token/create/nope", {}),
    Step("token-role-delete", "DELETE", "auth/token/roles/tr"),
    Step("token-role-list-empty", "LIST", "auth/token/roles"),
    Step("token-periodic", "POST", "auth/token/create", {"period": "1h", "policies": ["default"]}),
    Step(
        "token-periodic-lookup", "GET", "auth/token/lookup-self", token=_token_of("token-periodic")
    ),
    Step(
        "token-periodic-renew",
        "POST",
        "auth/token/renew-self",
        {"increment": "5h"},
        _token_of("token-periodic"),
    ),
    Step(
        "token-max-ttl",
        "POST",
        "auth/token/create",
        {"ttl": "1h", "explicit_max_ttl": "90m", "policies": ["default"]},
    ),
    Step("token-max-ttl-lookup", "GET", "auth/token/lookup-self", token=_token_of("token-max-ttl")),
    Step(
        "token-max-ttl-renew",
        "POST",
        "auth/token/renew-self",
        {"increment": "5h"},
        _token_of("token-max-ttl"),
    ),
    Step(
        "token-not-renewable",
        "POST",
        "auth/token/create",
        {"ttl": "1h", "renewable": False, "policies": ["default"]},
    ),
    Step(
        "token-not-renewable-renew",
        "POST",
        "auth/token/renew-self",
        {},
        _token_of("token-not-renewable"),
    ),
    Step("token-unknown-policy", "POST", "auth/token/create", {"ttl": "1h", "policies": ["app"]}),
    Step("seal", "POST", "sys/seal"),
    Step("sealed-read", "GET", "secret/data/diff/a"),
    Step("sealed-health", "GET", "sys/health", token=None),
    Step("sealed-seal-status", "GET", "sys/seal-status", token=None),
]


def _call(
    base: str, method: str, path: str, body: object, token: str | None, wrap: str | None = None
) -> Answer:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"{base}/v1/{path}", data=data, method=method)
    if token:
        request.add_header("X-Vault-Token", token)
    if wrap:
        request.add_header("X-Vault-Wrap-TTL", wrap)
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            text = answer.read()
            return answer.status, json.loads(text) if text else None
    except urllib.error.HTTPError as exc:
        text = exc.read()
        return exc.code, json.loads(text) if text else None


def _run(base: str) -> dict[str, Answer]:
    seen: dict[str, Answer] = {}
    for step in STEPS:
        body = step.body(seen) if callable(step.body) else step.body
        token = step.token(seen) if callable(step.token) else step.token
        seen[step.name] = _call(base, step.method, step.path, body, token, step.wrap_ttl)  # type: ignore[arg-type]
    return seen


def shape(value: Any) -> Any:
    """Keys and JSON types, recursively; the texts of ``errors`` are kept (they are words)."""
    if isinstance(value, dict):
        return {k: value[k] if k == "errors" else shape(v) for k, v in sorted(value.items())}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return type(value).__name__


@pytest.fixture(scope="module")
def answers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, tuple[Answer, Answer]]]:
    """Every step's ``(openbao, dev server)`` answers."""
    openbao = started_for_tests(tmp_path_factory, "differential")
    try:
        with VaultDevServer(root_token=ROOT_TOKEN, flavor="openbao") as dev:
            real, ours = _run(openbao.url), _run(dev.url)
    finally:
        openbao.stop()
    yield {step.name: (real[step.name], ours[step.name]) for step in STEPS}


@pytest.mark.parametrize("step", [s.name for s in STEPS])
def test_the_dev_server_answers_as_openbao(
    answers: dict[str, tuple[Answer, Answer]], step: str
) -> None:
    (real_status, real_body), (dev_status, dev_body) = answers[step]
    assert dev_status == real_status
    assert shape(dev_body) == shape(real_body)


def test_a_dead_token_is_worded_by_the_flavour(
    answers: dict[str, tuple[Answer, Answer]],
) -> None:
    """OpenBao, and the dev server in its flavour, say only 'permission denied'."""
    for step in ("unknown-token", "revoked-token-read", "revoked-token-lookup-self"):
        (_, real_body), (_, dev_body) = answers[step]
        assert real_body == dev_body == {"errors": [OPENBAO_DENIED]}


def test_the_vault_flavour_says_invalid_token_and_mount_type() -> None:
    with VaultDevServer(root_token=ROOT_TOKEN, flavor="vault") as dev:
        token = _call(dev.url, "POST", "auth/token/create", {"ttl": "1h"}, ROOT_TOKEN)[1]
        dead = token["auth"]["client_token"]
        _call(dev.url, "POST", "auth/token/revoke-self", None, dead)
        assert _call(dev.url, "GET", "secret/data/a", None, dead) == (
            403,
            {"errors": [VAULT_INVALID_TOKEN]},
        )
        assert _call(dev.url, "GET", "secret/data/a", None, "not-a-token")[0] == 403
        assert _call(dev.url, "GET", "secret/data/a", None, None) == (
            403,
            {"errors": [OPENBAO_DENIED]},
        )
        assert token["mount_type"] == "token" and dead.startswith("hvs.")
        health = _call(dev.url, "GET", "sys/health", None, None)[1]
        assert {"enterprise", "performance_standby"} <= set(health)


def test_an_unknown_flavour_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown flavor 'consul'"):
        VaultDevServer(flavor="consul")


def test_every_step_is_compared() -> None:
    names = [step.name for step in STEPS]
    assert len(names) == len(set(names))
