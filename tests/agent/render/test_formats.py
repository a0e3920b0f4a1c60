"""Rendering each format, checked byte for byte; env files read back by a real shell."""

from __future__ import annotations

import dataclasses
import json
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from secrets_agent.config.load import SecretSpec
from secrets_agent.render.envnames import is_dangerous
from secrets_agent.render.errors import RenderError
from secrets_agent.render.formats import env_file, env_key, render
from secrets_agent.sources.base import data_from_object
from secrets_agent.sources.result import SecretData


def spec(**kw: object) -> SecretSpec:
    base = SecretSpec(path="app/db", target="db")
    return dataclasses.replace(base, **kw)  # type: ignore[arg-type]


DATA = SecretData(fields={"username": "app", "password": "p\u00e4ss\n"}, raw="{}", version="3")


def test_fields_one_file_per_field_exact_bytes() -> None:
    assert render(spec(), DATA) == {
        "db/username": b"app",
        "db/password": "p\u00e4ss\n".encode(),
    }


@pytest.mark.parametrize("name", ["../x", ".hidden", "a/b", "", "sp ace", "x" * 300])
def test_fields_with_unusable_names_fail_for_that_secret(name: str, canary: str) -> None:
    data = SecretData(fields={"ok": canary, name: canary}, raw="{}")
    with pytest.raises(RenderError) as info:
        render(spec(), data)
    assert str(info.value).startswith("db: field name")
    assert canary not in str(info.value)


def test_fields_of_a_non_object_secret_is_raw(
    canary: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG", logger="secrets_agent")
    assert render(spec(), SecretData(fields=None, raw=canary)) == {"db": canary.encode()}
    assert render(spec(), SecretData(fields=None, raw=b"\x00\xff")) == {"db": b"\x00\xff"}
    assert "db" in caplog.text and "raw" in caplog.text
    assert canary not in caplog.text
    with pytest.raises(RenderError, match="no fields"):
        render(spec(), SecretData(fields={}, raw="{}"))


def test_json_canonical_or_raw() -> None:
    out = render(spec(format="json"), SecretData(fields={"b": "2", "a": "ü"}, raw="x"))
    assert out == {"db": '{"a":"ü","b":"2"}'.encode()}
    assert json.loads(out["db"]) == {"a": "ü", "b": "2"}
    assert render(spec(format="json"), SecretData(fields=None, raw="[1, 2]")) == {"db": b"[1, 2]"}


def test_raw_whole_payload_and_one_field() -> None:
    assert render(spec(format="raw"), SecretData(fields=None, raw="plain\n")) == {"db": b"plain\n"}
    binary = bytes(range(256))
    assert render(spec(format="raw"), SecretData(fields=None, raw=binary)) == {"db": binary}
    assert render(spec(format="raw", field="password"), DATA) == {"db": "p\u00e4ss\n".encode()}
    with pytest.raises(RenderError, match="no field 'nope'"):
        render(spec(format="raw", field="nope"), DATA)
    with pytest.raises(RenderError):
        render(spec(format="raw", field="x"), SecretData(fields=None, raw="plain"))


def test_template() -> None:
    s = spec(format="template", template="{{ username }}:{{ password | json }}")
    assert render(s, DATA) == {"db": 'app:"päss\\n"'.encode()}
    with pytest.raises(RenderError, match=r"^db: template uses field 'nope'"):
        render(spec(format="template", template="{{ nope }}"), DATA)


def test_lone_surrogate_is_a_render_error() -> None:
    with pytest.raises(RenderError, match="UTF-8"):
        render(spec(), SecretData(fields={"k": "\ud800"}, raw="{}"))


@pytest.mark.parametrize(
    ("name", "key"),
    [("api_key_id", "API_KEY_ID"), ("api-key.id", "API_KEY_ID"), ("1st", "_1ST"), ("ü", "_")],
)
def test_env_keys(name: str, key: str) -> None:
    assert env_key(name) == key


def test_env_rejects_nul_and_colliding_keys(canary: str) -> None:
    with pytest.raises(RenderError, match="NUL") as info:
        env_file({"k": canary + "\x00"})
    assert canary not in str(info.value)
    with pytest.raises(RenderError, match="both become variable A_B"):
        env_file({"a-b": "1", "a.b": "2"})


def test_env_text_shape() -> None:
    text = env_file({"b": 'say "hi" $HOME `id` \\n', "a": "x"})
    assert text == 'A="x"\nB="say \\"hi\\" \\$HOME \\`id\\` \\\\n"\n'


def read_back_with_shell(path: Path, keys: list[str]) -> list[str]:
    """Source ``path`` in a POSIX shell (same double-quote rules as systemd's EnvironmentFile=)."""
    script = 'set -a; . "$1"; shift; for k in "$@"; do eval "printf \'%s\\0\' \\"\\${$k}\\""; done'
    result = subprocess.run(
        ["bash", "-c", script, "sh", str(path), *keys],
        capture_output=True,
        check=True,
        timeout=30,
        env={"PATH": "/usr/bin:/bin"},
    )
    return result.stdout.decode("utf-8").split("\0")[:-1]


values = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=40
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.dictionaries(
        st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True).filter(
            lambda name: not is_dangerous(env_key(name))
        ),
        values,
        min_size=1,
    )
)
def test_env_round_trips_through_a_shell(tmpfs_dir: Path, fields: dict[str, str]) -> None:
    path = tmpfs_dir / "app.env"
    path.write_bytes(render(spec(format="env"), SecretData(fields=fields, raw="{}"))["db"])
    names = sorted(fields)
    assert read_back_with_shell(path, [env_key(n) for n in names]) == [fields[n] for n in names]


def test_env_tricky_values_round_trip(tmpfs_dir: Path) -> None:
    fields = {
        "quote": 'a"b',
        "backslash": "a\\b\\",
        "dollar": "$HOME ${PATH} $(id)",
        "tick": "`id`",
        "newline": "line1\nline2\n",
        "cr_tab": "\r\t",
        "spaces": "  padded  ",
        "hash": "# not a comment",
        "empty": "",
        "unicode": "pässwörd ✓",
        "escape_n": "\\n",
        "backslash_newline": "x\\\ny",
    }
    path = tmpfs_dir / "app.env"
    path.write_bytes(render(spec(format="env"), SecretData(fields=fields, raw="{}"))["db"])
    names = sorted(fields)
    assert read_back_with_shell(path, [env_key(n) for n in names]) == [fields[n] for n in names]


# -- limits -----------------------------------------------------------------------------------


def test_fields_over_max_fields_is_refused_before_anything(canary: str) -> None:
    fields = {f"f{i}": canary for i in range(129)}
    with pytest.raises(RenderError, match="129 fields, more than max_fields = 128") as info:
        render(spec(), SecretData(fields=fields, raw="{}"))
    assert canary not in str(info.value)
    del fields["f0"]
    assert len(render(spec(), SecretData(fields=fields, raw="{}"))) == 128
    with pytest.raises(RenderError, match="more than max_fields = 3"):
        render(spec(max_fields=3), SecretData(fields=dict(list(fields.items())[:4]), raw="{}"))


@pytest.mark.parametrize("fmt", ["fields", "json", "env", "raw", "template"])
def test_every_format_is_held_to_max_bytes(fmt: str, canary: str) -> None:
    data = SecretData(fields={"password": canary * 10}, raw=canary * 10)
    kw: dict[str, object] = {"format": fmt}
    if fmt == "template":
        kw["template"] = "{{ password }}"
    size = sum(len(c) for c in render(spec(**kw), data).values())
    assert render(spec(max_bytes=size, **kw), data)
    with pytest.raises(
        RenderError, match=f"{size} bytes, more than max_bytes = {size - 1}"
    ) as info:
        render(spec(max_bytes=size - 1, **kw), data)
    assert canary not in str(info.value)


# -- env: who chooses the variable names ------------------------------------------------------

PWNED_PAYLOADS = {
    # Python imports the "category" module of a warnings filter: antigravity opens $BROWSER.
    "python_browser": {
        "pythonwarnings": "all:0:antigravity.x:0:0",
        "browser": '/bin/sh -c "touch {marker}" #%s',
    },
    "bash_env": {"bash_env": "{script}"},
    "path": {"path": "{bindir}:/usr/bin:/bin"},
    "ld_preload_ignored_name_case": {"LD_preload": "/nonexistent.so", "browser": "x"},
}


def _consumer(env_file_path: Path, marker: Path) -> None:
    """A consumer that sources the file, then runs a Python program and a shell script."""
    subprocess.run(
        [
            "bash",
            "-c",
            'set -a; . "$1"; set +a; python3 -c pass 2>/dev/null; bash -c "id >/dev/null"',
            "consumer",
            str(env_file_path),
        ],
        env={"PATH": "/usr/bin:/bin", "HOME": str(marker.parent)},
        capture_output=True,
        timeout=60,
        check=False,
    )


def _hostile(name: str, tmp: Path) -> tuple[dict[str, str], Path]:
    marker = tmp / f"pwned-{name}"
    script = tmp / "env.sh"
    script.write_text(f"touch {marker}\n")
    bindir = tmp / "bin"
    bindir.mkdir(exist_ok=True)
    for tool in ("python3", "id"):
        fake = bindir / tool
        fake.write_text(f"#!/bin/sh\ntouch {marker}\n")
        fake.chmod(0o755)
    fields = {
        key: value.format(marker=marker, script=script, bindir=bindir)
        for key, value in PWNED_PAYLOADS[name].items()
    }
    return fields, marker


@pytest.mark.parametrize("name", sorted(PWNED_PAYLOADS))
def test_env_names_chosen_by_the_secret_cannot_run_code_in_a_consumer(
    tmpfs_dir: Path, name: str
) -> None:
    fields, marker = _hostile(name, tmpfs_dir)
    good = tmpfs_dir / "app.env"
    good.write_bytes(render(spec(format="env"), DATA)["db"])
    data = SecretData(fields={**fields, "password": "p2"}, raw="{}")
    with pytest.raises(RenderError, match="can change how a program runs; list the fields"):
        render(spec(format="env"), data)  # refused: the consumer keeps sourcing the good file
    _consumer(good, marker)
    assert not marker.exists()
    # With a prefix the same secret is harmless, and with an allow-list the extra fields are
    # left out.
    prefixed = tmpfs_dir / "prefixed.env"
    prefixed.write_bytes(render(spec(format="env", env_prefix="APP_"), data)["db"])
    assert all(line.startswith("APP_") for line in prefixed.read_text().splitlines())
    only = tmpfs_dir / "only.env"
    only.write_bytes(render(spec(format="env", fields=("password",)), data)["db"])
    assert only.read_text() == 'PASSWORD="p2"\n'
    for path in (prefixed, only):
        _consumer(path, marker)
        assert not marker.exists()
    if name != "ld_preload_ignored_name_case":
        # The payload is real: a secret entry that explicitly allows these names runs it.
        allowed = tmpfs_dir / "allowed.env"
        text = render(spec(format="env", fields=tuple(fields)), data)["db"]
        allowed.write_bytes(text)
        _consumer(allowed, marker)
        assert marker.exists()


@pytest.mark.parametrize(
    "name",
    ["LD_PRELOAD", "LD_AUDIT", "PATH", "IFS", "ENV", "BASH_ENV", "BASH_FUNC_X", "PYTHONPATH",
     "PYTHONWARNINGS", "NODE_OPTIONS", "PERL5OPT", "PERLLIB", "RUBYOPT", "JAVA_TOOL_OPTIONS",
     "_JAVA_OPTIONS", "GCONV_PATH", "GLIBC_TUNABLES", "BROWSER", "HTTPS_PROXY", "GIT_SSH_COMMAND",
     "OPENSSL_CONF", "SSLKEYLOGFILE", "HOME", "PROMPT_COMMAND", "PS4", "NOTIFY_SOCKET",
     "SECRETS_DIR", "VAULT_ADDR", "DOTNET_STARTUP_HOOKS", "CORECLR_PROFILER", "XDG_CONFIG_HOME"],
)  # fmt: skip
def test_dangerous_names(name: str) -> None:
    assert is_dangerous(name)
    with pytest.raises(RenderError, match=f"would set {name},"):
        env_file({name.lower(): "x"}, "db")
    assert env_file({name.lower(): "x"}, "db", only=(name.lower(),)) == f'{name}="x"\n'


@pytest.mark.parametrize(
    "name", ["PASSWORD", "USERNAME", "DATABASE_URL", "API_KEY", "SECRET_KEY", "AWS_ACCESS_KEY_ID",
             "AWS_SECRET_ACCESS_KEY", "NODE_ENV", "PGPASSWORD", "TOKEN", "LDAP_PASSWORD"],
)  # fmt: skip
def test_ordinary_names_pass(name: str) -> None:
    assert not is_dangerous(name)
    assert env_file({name.lower(): "x"}) == f'{name}="x"\n'


def test_env_allow_list_needs_every_listed_field(canary: str) -> None:
    with pytest.raises(RenderError, match="no field 'missing' \\(listed in fields\\)") as info:
        render(spec(format="env", fields=("password", "missing")), DATA)
    assert canary not in str(info.value)


def test_env_prefix_names() -> None:
    assert env_key("1st", "APP_") == "APP_1ST"
    text = render(spec(format="env", env_prefix="APP_"), DATA)["db"].decode()
    assert text.startswith('APP_PASSWORD="')
    with pytest.raises(RenderError, match="would set LD_PRELOAD"):
        render(spec(format="env", env_prefix="LD_"), SecretData(fields={"preload": "x"}, raw="{}"))


def test_json_keeps_the_backends_json_types() -> None:
    obj = {"n": 42, "t": True, "z": None, "f": 1.5, "s": "42", "o": {"a": [1]}}
    data = data_from_object(obj, path="p", version="1")
    out = render(spec(format="json"), data)
    assert json.loads(out["db"]) == obj
    # The text formats still see text: 42 -> "42", true -> "true", null -> "null".
    env = render(spec(format="env", fields=("n", "t", "z")), data)["db"].decode()
    assert env == 'N="42"\nT="true"\nZ="null"\n'
