"""``[[templates]]`` entries and ``format = "none"``: sources, syntax, targets shared with
``[[secrets]]``, every problem at once."""

from __future__ import annotations

from typing import Any

import pytest
from secrets_agent.config.load import ConfigError, parse_config
from secrets_agent.config.schema import TemplateSpec


def config(*templates: dict[str, Any], secrets: list[dict[str, Any]] | None = None) -> dict:
    return {
        "agent": {"output_dir": "/run/secrets", "file_mode": "0440"},
        "backend": {
            "type": "vault",
            "address": "http://127.0.0.1:8200",
            "auth": {"method": "token", "token": "t"},
        },
        "secrets": secrets
        if secrets is not None
        else [{"path": "postgres", "format": "none"}, {"path": "team/alpaca", "target": "alpaca"}],
        "templates": list(templates),
    }


def problems_of(data: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(data, environ={})
    return info.value.problems


GOOD = {
    "target": "app/config.ini",
    "sources": {"db": "postgres", "api": "alpaca"},
    "template": "pw={{ db.password }}\nkey={{ api.key | json }}\n",
}


def test_a_template_over_two_secrets_with_the_agent_defaults() -> None:
    parsed = parse_config(config({**GOOD, "on_change": ["true"]}), environ={})
    assert parsed.templates == (
        TemplateSpec(
            target="app/config.ini",
            template=GOOD["template"],
            sources=(("db", "postgres"), ("api", "alpaca")),
            mode=0o440,
            on_change=("true",),
            max_bytes=parsed.agent.max_bytes,
        ),
    )
    assert parsed.secrets[0].format == "none"


def test_no_templates_is_the_default() -> None:
    data = config(secrets=[{"path": "a"}])
    del data["templates"]
    assert parse_config(data, environ={}).templates == ()


def test_every_problem_is_reported_with_its_key_path() -> None:
    problems = problems_of(
        config(
            {"sources": {"db": "postgres"}, "template": "{{ db.password }}"},
            {
                "target": "b",
                "sources": {"db": "nowhere", "api": "alpaca", "9x": "alpaca"},
                "template": "{{ api.key }}",
            },
            {"target": "c", "sources": {"db": "postgres"}, "template": "{{ cache.key }}"},
            {
                "target": "d",
                "sources": {"db": "postgres", "api": "alpaca"},
                "template": "{{ db.x }}",
            },
            {"target": "e", "sources": {"db": "postgres"}, "template": "{{ db.x }}", "colour": 1},
            {"target": "../f", "sources": {}, "template": 3},
        )
    )
    assert problems == [
        "templates[0].target: is required",
        "templates[1].sources.db: names no [[secrets]] entry (give its target, or its path)",
        "templates[1].sources.9x: is not a source name (letters, digits and _, not a digit first)",
        "templates[2].template: tag at line 1, column 1 uses source 'cache', which is not"
        " declared (sources: db)",
        "templates[3].sources.api: is declared but the template never uses it",
        "templates[4].colour: unknown key",
        "templates[5].target: has a segment starting with '.' (dot names belong to the agent)",
        "templates[5].sources: must be a non-empty table of name = target, not a table",
        "templates[5].template: is required (a string)",
    ]


def test_targets_collide_with_secrets_and_other_templates() -> None:
    problems = problems_of(
        config(
            {**GOOD, "target": "alpaca"},
            {**GOOD, "target": "alpaca/x"},
            {**GOOD, "target": "app"},
            {**GOOD, "target": "app"},
        )
    )
    assert problems == [
        "templates[0].target: same target as secrets[1]",
        "templates[1].target: overlaps secrets[1] (one would be a directory of the other)",
        "templates[1].target: overlaps templates[0] (one would be a directory of the other)",
        "templates[3].target: same target as templates[2]",
    ]


def test_a_none_secret_must_feed_a_template_and_takes_no_file_settings() -> None:
    problems = problems_of(
        config(
            secrets=[
                {"path": "postgres", "format": "none", "mode": "0400", "on_change": ["x"]},
                {"path": "unused", "format": "none"},
            ],
        )
        | {"templates": [{"target": "t", "sources": {"db": "postgres"}, "template": "{{ db.p }}"}]}
    )
    assert problems == [
        'secrets[0].mode: not used with format = "none" (it writes no file)',
        'secrets[0].on_change: not used with format = "none" (it writes no file)',
        'secrets[1].format: "none" writes no file, and no [[templates]] entry uses this secret',
    ]


def test_exec_cannot_read_a_none_secret() -> None:
    data = config(GOOD) | {"exec": {"env": {"PW": "postgres"}}}
    assert problems_of(data) == [
        "exec.env.PW: names no file of a [[secrets]] target (<target>/<field>, or <target>)"
    ]


def test_messages_never_repeat_the_template_text() -> None:
    problems = problems_of(config({**GOOD, "template": "hunter2-literal {{ db.password | nope }}"}))
    assert len(problems) == 1 and "hunter2" not in problems[0]
