"""CONFIGURATION.md documents exactly the keys the config dataclasses have, with their defaults."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
from secrets_agent.config import load as config
from secrets_agent.durations import parse_duration

DOC = Path(__file__).resolve().parents[2] / "CONFIGURATION.md"

# dataclass -> the heading of its section in CONFIGURATION.md
SECTIONS: dict[type, str] = {
    config.AgentSettings: "## `[agent]`",
    config.VaultBackendConfig: '### `type = "vault"`',
    config.AuthConfig: "### `[backend.auth]`",
    config.AwsBackendConfig: '### `type = "aws"`',
    config.SecretSpec: "## `[[secrets]]`",
    config.TemplateSpec: "## `[[templates]]`",
}
# Fields that are not keys of the TOML file: Config.source is the path the file was read from;
# VaultBackendConfig.addresses holds every node when `address` is a list.
# Fields the loader derives, not keys a config file sets.
NOT_KEYS = {
    (config.Config, "source"),
    (config.Config, "inline_credential"),
    (config.VaultBackendConfig, "addresses"),
}
DURATIONS = {"refresh_interval", "on_change_timeout", "timeout"}
_ROW = re.compile(r"^\| `([a-z_]+)` \| [^|]* \| ([^|]*) \|", re.MULTILINE)


def _section(heading: str) -> str:
    text = DOC.read_text(encoding="utf-8")
    assert heading in text, f"CONFIGURATION.md has no section {heading!r}"
    body = text.split(heading + "\n", 1)[1]
    return re.split(r"^#{2,3} ", body, maxsplit=1, flags=re.MULTILINE)[0]


def _rows(heading: str) -> dict[str, str]:
    return {key: default.strip() for key, default in _ROW.findall(_section(heading))}


@pytest.mark.parametrize("cls", list(SECTIONS), ids=lambda c: c.__name__)
def test_every_field_is_documented_and_nothing_else(cls: type) -> None:
    fields = {f.name for f in dataclasses.fields(cls) if (cls, f.name) not in NOT_KEYS}
    documented = set(_rows(SECTIONS[cls]))
    assert fields - documented == set(), f"undocumented keys of {cls.__name__}"
    assert documented - fields == set(), f"documented keys that {cls.__name__} does not have"


def test_top_level_tables_are_documented() -> None:
    text = DOC.read_text(encoding="utf-8")
    for f in dataclasses.fields(config.Config):
        if (config.Config, f.name) in NOT_KEYS:
            continue
        arrays = ("secrets", "templates")
        heading = f"## `[[{f.name}]]`" if f.name in arrays else f"## `[{f.name}]`"
        assert heading in text, f"no section for the top-level table {f.name!r}"


def _documented_value(name: str, text: str) -> object:
    literal = text.strip("`").strip('"')
    if name.endswith("mode"):
        return int(literal, 8)
    if name in DURATIONS:
        return parse_duration(literal)
    if literal in ("true", "false"):
        return literal == "true"
    if literal.isdigit():
        return int(literal)
    return literal


@pytest.mark.parametrize("cls", list(SECTIONS), ids=lambda c: c.__name__)
def test_documented_literal_defaults_match_the_code(cls: type) -> None:
    """A default written as a single literal (`"5m"`, `8`, `false`) equals the field default."""
    rows = _rows(SECTIONS[cls])
    checked = 0
    for f in dataclasses.fields(cls):
        doc = rows.get(f.name, "")
        if f.default is dataclasses.MISSING or f.default is None:
            continue
        if not re.fullmatch(r"`[^`\[]+`", doc):  # a literal, not "`[agent].file_mode`"
            continue
        assert _documented_value(f.name, doc) == (
            str(f.default) if isinstance(f.default, Path) else f.default
        ), f"{cls.__name__}.{f.name}: documented default {doc} differs from the code"
        checked += 1
    if cls in (config.AgentSettings, config.VaultBackendConfig, config.AwsBackendConfig):
        assert checked >= 1


def test_required_keys_are_marked_required() -> None:
    for cls, heading in SECTIONS.items():
        rows = _rows(heading)
        for f in dataclasses.fields(cls):
            no_default = (
                f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
            )
            # SecretSpec.target has no dataclass default but defaults to `path` when parsed.
            if no_default and not (cls is config.SecretSpec and f.name == "target"):
                if cls is config.AwsBackendConfig or f.name == "type":
                    continue
                assert "required" in rows[f.name], f"{cls.__name__}.{f.name} is required"
