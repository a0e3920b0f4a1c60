"""Config loading: types, defaults, every problem at once with its key path, no value echoed."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from secrets_agent.config.load import (
    DEFAULT_JWT_FILE,
    AwsBackendConfig,
    ConfigError,
    VaultBackendConfig,
    load_config,
    parse_config,
)

BASE: dict[str, Any] = {
    "agent": {"output_dir": "/run/secrets"},
    "backend": {
        "type": "vault",
        "address": "http://127.0.0.1:8200",
        "auth": {"method": "token", "token_file": "/etc/vault-token"},
    },
    "secrets": [{"path": "alpaca"}],
}


def config(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(BASE)
    for dotted, value in changes.items():
        *parents, last = dotted.split("__")
        node: Any = data
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        node[last] = value
    return data


def problems_of(data: dict[str, Any], environ: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(data, environ=environ or {})
    return info.value.problems


def test_minimal_config_defaults() -> None:
    cfg = parse_config(BASE, environ={})
    assert cfg.agent.output_dir == Path("/run/secrets")
    assert cfg.agent.refresh_interval == 300.0
    assert (cfg.agent.file_mode, cfg.agent.dir_mode) == (0o400, 0o700)
    assert cfg.agent.allow_non_tmpfs is False
    assert isinstance(cfg.backend, VaultBackendConfig)
    assert (cfg.backend.kv_mount, cfg.backend.kv_version) == ("secret", 2)
    assert cfg.backend.auth.token_file == Path("/etc/vault-token")
    (spec,) = cfg.secrets
    assert (spec.path, spec.target, spec.format, spec.mode) == ("alpaca", "alpaca", "fields", 0o400)
    assert spec.refresh_interval == 300.0
    assert (spec.owner, spec.group) == (None, None)


def test_full_example_file(tmp_path: Path) -> None:
    path = tmp_path / "agent.toml"
    path.write_text(
        """
[agent]
output_dir = "/run/secrets"
refresh_interval = "5m"
file_mode = "0440"
dir_mode = 0o750
owner = "root"
group = "nogroup"
metrics_file = "/var/lib/node_exporter/secrets_agent.prom"

[backend]
type = "vault"
address = "https://vault.example:8200/"
auth = { method = "approle", role_id = "r-1", secret_id_file = "secret_id" }
kv_mount = "/kv/"
kv_version = 1
timeout = "2s"

[[secrets]]
path = "alpaca"

[[secrets]]
path = "db/prod"
target = "db.env"
format = "env"
mode = "0400"
owner = 65534
refresh_interval = "1m"
on_change = ["systemctl", "reload", "app"]

[[secrets]]
path = "db/prod"
target = "db-url"
format = "template"
template = "postgres://{{ username }}:{{ password | urlquote }}@db/app"

[[secrets]]
path = "tls"
target = "tls.key"
format = "raw"
field = "key"
"""
    )
    cfg = load_config(path, environ={"CREDENTIALS_DIRECTORY": "/run/credentials/agent"})
    assert cfg.source == path
    assert cfg.agent.file_mode == 0o440 and cfg.agent.dir_mode == 0o750
    assert (cfg.agent.owner, cfg.agent.group) == (0, 65534)
    backend = cfg.backend
    assert isinstance(backend, VaultBackendConfig)
    assert backend.address == "https://vault.example:8200"
    assert (backend.kv_mount, backend.kv_version, backend.timeout) == ("kv", 1, 2.0)
    assert backend.auth.method == "approle"
    assert backend.auth.secret_id_file == Path("/run/credentials/agent/secret_id")
    alpaca, env, tmpl, raw = cfg.secrets
    assert (alpaca.mode, alpaca.owner, alpaca.group) == (0o440, 0, 65534)
    assert (env.target, env.format, env.mode, env.owner, env.refresh_interval) == (
        "db.env",
        "env",
        0o400,
        65534,
        60.0,
    )
    assert env.on_change == ("systemctl", "reload", "app")
    assert tmpl.template is not None and "urlquote" in tmpl.template
    assert (raw.format, raw.field) == ("raw", "key")


def test_every_problem_reported_at_once_with_key_paths() -> None:
    data = config(
        agent__refresh_interval="soon",
        agent__file_mode="0999",
        agent__colour="blue",
        backend__kv_version=3,
    )
    data["secrets"] = [
        {"path": "a"},
        {"path": "b", "format": "yaml"},
        {"path": "c", "format": "template"},
        {"path": "d", "target": "../etc/passwd"},
        {"path": "e", "unknown": 1},
    ]
    problems = problems_of(data)
    text = "\n".join(problems)
    for expected in [
        "agent.refresh_interval: ",
        "agent.file_mode: ",
        "agent.colour: unknown key",
        "backend.kv_version: must be between 1 and 2",
        "secrets[1].format: must be one of fields, json, env, raw, template",
        "secrets[2].template: is required",
        "secrets[3].target: ",
        "secrets[4].unknown: unknown key",
    ]:
        assert expected in text
    assert len(problems) == 8
    with pytest.raises(ConfigError) as info:
        parse_config(data, environ={})
    assert str(info.value).splitlines() == problems


def test_secret_values_never_echoed(canary: str) -> None:
    data = config()
    data["backend"]["auth"] = {"method": "token", "token": 12, "token_file": canary}
    data["backend"]["auth"]["secret_id"] = canary
    data["backend"]["address"] = canary
    data["agent"]["refresh_interval"] = canary
    data["agent"]["file_mode"] = canary
    data["agent"]["concurrency"] = canary
    data["secrets"][0]["format"] = canary
    data["secrets"][0]["mode"] = canary
    data["secrets"][0]["template"] = canary
    data["secrets"][0][canary[:5]] = canary
    problems = problems_of(data)
    assert len(problems) >= 9
    assert canary not in "\n".join(problems)
    # a bad type for the token itself
    data = config()
    data["backend"]["auth"] = {"method": "approle", "role_id": canary, "secret_id": [canary]}
    assert canary not in "\n".join(problems_of(data))
    # a template whose syntax is broken does not echo the template text
    data = config()
    data["secrets"][0].update(format="template", template="x{{ " + canary + " | nope }}")
    assert canary not in "\n".join(problems_of(data))


def test_repr_hides_inline_credentials(canary: str) -> None:
    data = config()
    data["backend"]["auth"] = {"method": "approle", "role_id": "r", "secret_id": canary}
    cfg = parse_config(data, environ={})
    assert canary not in repr(cfg)
    data["backend"]["auth"] = {"method": "token", "token": canary}
    cfg = parse_config(data, environ={})
    assert isinstance(cfg.backend, VaultBackendConfig)
    assert cfg.backend.auth.token == canary
    assert canary not in repr(cfg) and canary not in str(cfg)


@pytest.mark.parametrize(
    ("mode", "ok"),
    [
        ("0400", 0o400),
        ("400", 0o400),
        ("0o440", 0o440),
        (0o600, 0o600),
        ("0000", 0),
        ("4400", None),  # setuid
        ("1400", None),  # sticky
        (0o1000, None),
        ("0402", None),  # world-writable
        ("0404", None),  # world-readable, not allowed by default
        ("0420", None),  # group-writable
        ("0410", None),  # group-exec
        ("0x400", None),
        ("0800", None),
        (True, None),
        (-1, None),
    ],
)
def test_file_modes(mode: object, ok: int | None) -> None:
    data = config(secrets__0__mode=mode)
    if ok is None:
        assert problems_of(data)[0].startswith("secrets[0].mode: ")
    else:
        assert parse_config(data, environ={}).secrets[0].mode == ok


def test_world_readable_only_when_allowed() -> None:
    data = config(secrets__0__mode="0444", agent__dir_mode="0755")
    assert {p.split(":")[0] for p in problems_of(data)} == {"agent.dir_mode", "secrets[0].mode"}
    data["agent"]["allow_world_readable"] = True
    cfg = parse_config(data, environ={})
    assert (cfg.secrets[0].mode, cfg.agent.dir_mode) == (0o444, 0o755)


@pytest.mark.parametrize("mode", ["0600", "0770", "0777", "0500"])
def test_bad_dir_modes(mode: str) -> None:
    assert problems_of(config(agent__dir_mode=mode))[0].startswith("agent.dir_mode: ")


def test_owner_and_group_names_resolved_unknown_is_error() -> None:
    cfg = parse_config(config(secrets__0__owner="nobody", secrets__0__group="nogroup"), environ={})
    assert (cfg.secrets[0].owner, cfg.secrets[0].group) == (65534, 65534)
    problems = problems_of(config(agent__owner="no-such-user-x", secrets__0__group="no-such-grp"))
    assert problems == [
        "agent.owner: unknown user 'no-such-user-x'",
        "secrets[0].group: unknown group 'no-such-grp'",
    ]


@pytest.mark.parametrize(
    "target",
    [
        "/etc/x",
        "../x",
        "a/../../x",
        ".status.json",
        "a/.hidden",
        "a//b",
        "a/",
        "sp ace",
        "a\\b",
        "",
    ],
)
def test_bad_targets(target: str) -> None:
    assert problems_of(config(secrets__0__target=target))[0].startswith("secrets[0].target: ")


def test_default_target_must_be_valid() -> None:
    data = config(secrets__0__path="app/db:prod")
    (problem,) = problems_of(data)
    assert problem.startswith("secrets[0].target: the default target")
    data["secrets"][0]["target"] = "x"
    assert parse_config(data, environ={}).secrets[0].target == "x"


@pytest.mark.parametrize("path", ["/abs", "a/", "a//b", "a/../b", "."])
def test_bad_paths(path: str) -> None:
    problems = problems_of(config(secrets__0__path=path, secrets__0__target="t"))
    assert problems[0].startswith("secrets[0].path: ")


def test_duplicate_and_overlapping_targets() -> None:
    data = config()
    data["secrets"] = [
        {"path": "a"},
        {"path": "b", "target": "a"},
        {"path": "c", "target": "a/x", "format": "raw"},
        {"path": "d", "target": "ab"},
        {"path": "e", "target": "q/r"},
        {"path": "f", "target": "q"},
    ]
    assert problems_of(data) == [
        "secrets[1].target: same target as secrets[0]",
        "secrets[2].target: overlaps secrets[0] (one would be a directory of the other)",
        "secrets[2].target: overlaps secrets[1] (one would be a directory of the other)",
        "secrets[5].target: overlaps secrets[4] (one would be a directory of the other)",
    ]


def test_format_specific_keys() -> None:
    data = config()
    data["secrets"] = [
        {"path": "a", "field": "x"},
        {"path": "b", "template": "{{ x }}"},
        {"path": "c", "format": "template", "template": "{{ x | nope }}"},
        {"path": "d", "format": "template", "template": "{{ x "},
        {"path": "e", "format": "raw", "field": "x"},
        {"path": "f", "version_stage": "AWSPREVIOUS"},
    ]
    problems = problems_of(data)
    assert [p.split(":")[0] for p in problems] == [
        "secrets[0].field",
        "secrets[1].template",
        "secrets[2].template",
        "secrets[3].template",
        "secrets[5].version_stage",
    ]
    assert "line 1, column 1" in problems[3]


def test_aws_backend() -> None:
    data = config(secrets__0__version_stage="AWSPREVIOUS")
    data["backend"] = {"type": "aws", "region": "eu-west-1", "endpoint_url": "http://127.0.0.1:5"}
    cfg = parse_config(data, environ={})
    assert cfg.backend == AwsBackendConfig(region="eu-west-1", endpoint_url="http://127.0.0.1:5")
    assert cfg.secrets[0].version_stage == "AWSPREVIOUS"
    data["backend"]["address"] = "http://x"
    data["backend"]["endpoint_url"] = "ftp://x"
    assert problems_of(data) == [
        "backend.endpoint_url: must be an http:// or https:// URL",
        "backend.address: unknown key",
    ]


def test_backend_type_required() -> None:
    data = config()
    data["backend"] = {"address": "http://x"}
    assert problems_of(data) == ["backend.type: is required; must be one of vault, aws"]


@pytest.mark.parametrize(
    ("auth", "expected"),
    [
        ({"method": "token"}, ["backend.auth.token: token auth needs"]),
        ({"method": "token", "token": "t", "token_file": "/f"}, ["backend.auth.token: set only"]),
        ({"method": "approle"}, ["backend.auth.role_id: ", "backend.auth.secret_id: "]),
        ({"method": "kubernetes"}, ["backend.auth.role: is required"]),
        ({"method": "token", "token": "t", "role": "x"}, ["backend.auth.role: not used by"]),
        ({"method": "ldap"}, ["backend.auth.method: must be one of token, approle, kubernetes"]),
        ({"method": "token", "token": "t", "colour": 1}, ["backend.auth.colour: unknown key"]),
    ],
)
def test_auth_problems(auth: dict[str, object], expected: list[str]) -> None:
    data = config()
    data["backend"]["auth"] = auth
    problems = problems_of(data)
    assert len(problems) == len(expected)
    for problem, prefix in zip(problems, expected, strict=True):
        assert problem.startswith(prefix)


def test_credentials_directory_fallbacks(tmp_path: Path) -> None:
    env = {"CREDENTIALS_DIRECTORY": str(tmp_path)}
    data = config()
    data["backend"]["auth"] = {"method": "approle", "role_id": "r"}
    auth = parse_config(data, environ=env).backend.auth  # type: ignore[union-attr]
    assert auth.secret_id_file == tmp_path / "secret_id"
    data["backend"]["auth"] = {"method": "token"}
    auth = parse_config(data, environ=env).backend.auth  # type: ignore[union-attr]
    assert auth.token_file == tmp_path / "vault_token"
    data["backend"]["auth"] = {"method": "token", "token_file": "tok"}
    auth = parse_config(data, environ=env).backend.auth  # type: ignore[union-attr]
    assert auth.token_file == tmp_path / "tok"
    # $VAULT_TOKEN is used when no credential file exists
    data["backend"]["auth"] = {"method": "token"}
    auth = parse_config(data, environ={"VAULT_TOKEN": "t"}).backend.auth  # type: ignore[union-attr]
    assert auth.token == "t"


def test_relative_credential_path_without_credentials_directory(tmp_path: Path) -> None:
    data = config()
    data["backend"]["auth"] = {"method": "kubernetes", "role": "app", "jwt_file": "jwt"}
    assert problems_of(data) == [
        "backend.auth.jwt_file: relative path needs $CREDENTIALS_DIRECTORY or a config file"
    ]
    path = tmp_path / "agent.toml"
    path.write_text(
        '[agent]\noutput_dir = "/run/s"\n[backend]\ntype = "vault"\naddress = "http://v"\n'
        'auth = { method = "kubernetes", role = "app", jwt_file = "jwt" }\n'
        '[[secrets]]\npath = "a"\n'
    )
    auth = load_config(path, environ={}).backend.auth  # type: ignore[union-attr]
    assert auth.jwt_file == tmp_path / "jwt"
    data["backend"]["auth"] = {"method": "kubernetes", "role": "app"}
    assert parse_config(data, environ={}).backend.auth.jwt_file == DEFAULT_JWT_FILE  # type: ignore[union-attr]


def test_vault_addr_from_environment() -> None:
    data = config()
    del data["backend"]["address"]
    cfg = parse_config(data, environ={"VAULT_ADDR": "http://10.0.0.1:8200"})
    assert cfg.backend.address == "http://10.0.0.1:8200"  # type: ignore[union-attr]
    assert problems_of(data) == ["backend.address: is required"]


def test_top_level_problems() -> None:
    assert problems_of({}) == [
        "agent: is required",
        "backend: is required",
        "secrets: at least one [[secrets]] entry is required",
    ]
    assert problems_of({**BASE, "secret": []}) == ["secret: unknown key"]
    assert problems_of({**BASE, "secrets": {"path": "a"}})[0].startswith("secrets: must be")


def test_agent_paths_and_numbers() -> None:
    problems = problems_of(
        config(
            agent__output_dir="run/secrets",
            agent__concurrency=0,
            agent__on_change_timeout=0,
            agent__allow_non_tmpfs="yes",
        )
    )
    assert [p.split(":")[0] for p in problems] == [
        "agent.output_dir",
        "agent.allow_non_tmpfs",
        "agent.concurrency",
        "agent.on_change_timeout",
    ]
    problems = problems_of(config(agent__metrics_file="/run/secrets/m.prom"))
    assert problems == ["agent.metrics_file: must be outside output_dir"]


def test_on_change_must_be_argv() -> None:
    assert problems_of(config(secrets__0__on_change="systemctl reload x"))[0].startswith(
        "secrets[0].on_change: must be a non-empty array"
    )


def test_load_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "missing.toml")
    assert "cannot read" in str(info.value)
    bad = tmp_path / "bad.toml"
    bad.write_text('[agent\noutput_dir = "x"\n')
    with pytest.raises(ConfigError) as info:
        load_config(bad)
    assert "invalid TOML" in str(info.value)


def test_config_is_frozen() -> None:
    cfg = parse_config(BASE, environ={})
    with pytest.raises(AttributeError):
        cfg.agent.file_mode = 0o777  # type: ignore[misc]


def test_ca_cert_relative_to_config_file(tmp_path: Path) -> None:
    path = tmp_path / "agent.toml"
    path.write_text(
        '[agent]\noutput_dir = "/run/s"\n[backend]\ntype = "vault"\naddress = "https://v"\n'
        'ca_cert = "ca.pem"\nauth = { method = "token", token_file = "tok" }\n'
        '[[secrets]]\npath = "a"\n'
    )
    cfg = load_config(path, environ={"CREDENTIALS_DIRECTORY": "/run/credentials/x"})
    assert isinstance(cfg.backend, VaultBackendConfig)
    assert cfg.backend.ca_cert == tmp_path / "ca.pem"
    assert cfg.backend.auth.token_file == Path("/run/credentials/x/tok")


@settings(max_examples=300, deadline=None)
@given(
    st.text(alphabet=st.sampled_from(list("aZ09_.@+=-/ \\\x00\n:é")), max_size=12)
    | st.from_regex(r"[a-z]{1,3}(/[a-z._-]{1,3}){0,3}", fullmatch=True)
)
def test_target_rules_agree_with_the_reader(path: str) -> None:
    from libs.secrets.errors import InvalidSecretKeyError
    from libs.secrets.keys import validate_relative_path
    from secrets_agent.writer.paths import relpath_problem

    try:
        validate_relative_path(path)
        reader_ok = True
    except InvalidSecretKeyError:
        reader_ok = False
    assert (relpath_problem(path) is None) == reader_ok


@pytest.mark.parametrize(
    "metrics",
    ["/run/x/../secrets/m.prom", "/run/secrets/./m.prom", "/run//secrets/sub/../m.prom"],
)
def test_metrics_file_inside_output_dir_is_found_after_resolving(metrics: str) -> None:
    problems = problems_of(config(agent__metrics_file=metrics))
    assert problems == ["agent.metrics_file: must be outside output_dir"]


def test_metrics_file_through_a_symlink_into_output_dir(tmp_path: Path) -> None:
    out = tmp_path / "secrets"
    out.mkdir()
    (tmp_path / "metrics").symlink_to(out)
    data = config(agent__output_dir=str(out), agent__metrics_file=str(tmp_path / "metrics/m.prom"))
    assert problems_of(data) == ["agent.metrics_file: must be outside output_dir"]
    data = config(agent__output_dir=str(out), agent__metrics_file=str(tmp_path / "m/../m.prom"))
    assert parse_config(data, environ={}).agent.metrics_file == tmp_path / "m/../m.prom"


def test_limits_default_from_agent_and_per_secret() -> None:
    cfg = parse_config(BASE, environ={})
    assert (cfg.agent.max_fields, cfg.agent.max_bytes) == (128, 1 << 20)
    assert (cfg.secrets[0].max_fields, cfg.secrets[0].max_bytes) == (128, 1 << 20)
    data = config(agent__max_fields=10, agent__max_bytes=4096)
    data["secrets"].append({"path": "b", "max_fields": 500, "max_bytes": 100})
    cfg = parse_config(data, environ={})
    assert [(s.max_fields, s.max_bytes) for s in cfg.secrets] == [(10, 4096), (500, 100)]
    data = config(agent__max_fields=0, **{"secrets__0__max_bytes": "1m"})
    assert problems_of(data) == [
        "agent.max_fields: must be between 1 and 100000",
        "secrets[0].max_bytes: must be an integer, not a string",
    ]


def test_env_allow_list_and_prefix() -> None:
    data = config(**{"secrets__0__format": "env", "secrets__0__fields": ["user", "ld_preload"]})
    data["secrets"][0]["env_prefix"] = "APP_"
    (spec,) = parse_config(data, environ={}).secrets
    assert (spec.fields, spec.env_prefix) == (("user", "ld_preload"), "APP_")
    assert parse_config(BASE, environ={}).secrets[0].fields is None
    bad = config(
        **{"secrets__0__fields": ["a"], "secrets__0__env_prefix": "APP_"},
    )
    assert problems_of(bad) == [
        'secrets[0].fields: only used with format = "env"',
        'secrets[0].env_prefix: only used with format = "env"',
    ]
    for fields, problem in [
        ([], "must be a non-empty array of strings"),
        ("user", "must be a non-empty array of strings"),
        (["a", ""], "every entry must be a non-empty string without control characters"),
        (["a", "a"], "lists a name twice"),
    ]:
        data = config(**{"secrets__0__format": "env", "secrets__0__fields": fields})
        assert problems_of(data) == [f"secrets[0].fields: {problem}"]
    for prefix in ["app_", "1X", "A-B", "A B"]:
        data = config(**{"secrets__0__format": "env", "secrets__0__env_prefix": prefix})
        assert problems_of(data) == [
            "secrets[0].env_prefix: must be upper-case letters, digits and _,"
            " not starting with a digit"
        ]


def test_catch_up_window_is_a_duration_and_zero_means_at_once() -> None:
    assert parse_config(BASE, environ={}).agent.catch_up_window is None
    got = parse_config(config(agent__catch_up_window="5s"), environ={})
    assert got.agent.catch_up_window == 5.0
    assert parse_config(config(agent__catch_up_window="0s"), environ={}).agent.catch_up_window == 0
    (problem,) = problems_of(config(agent__catch_up_window="soon"))
    assert "catch_up_window" in problem


@pytest.mark.parametrize(
    ("auth", "inline"),
    [
        ({"method": "token", "token_file": "/etc/vault-token"}, False),
        ({"method": "token", "token": "s.inline"}, True),
        ({"method": "approle", "role_id": "r", "secret_id": "s"}, True),
        ({"method": "approle", "role_id": "r", "secret_id_file": "/etc/secret-id"}, False),
    ],
)
def test_a_credential_written_in_the_document_is_noted(auth: dict[str, str], inline: bool) -> None:
    # ``cli.preflight`` then wants the file as private as a token file (without parsing it again)
    assert parse_config(config(backend__auth=auth), environ={}).inline_credential is inline
