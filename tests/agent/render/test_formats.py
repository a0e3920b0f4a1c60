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
from secrets_agent.render.errors import RenderError
from secrets_agent.render.formats import env_file, env_key, render
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
@given(st.dictionaries(st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True), values, min_size=1))
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
