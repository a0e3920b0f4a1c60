"""The template engine: substitution and filters only; strict about missing fields and syntax."""

from __future__ import annotations

import pytest
from secrets_agent.render.errors import RenderError
from secrets_agent.render.template import TemplateSyntaxError, compile_template

FIELDS = {"username": "app", "password": "p@ss:w/rd ü", "port": "5432", "pad": "  x  "}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ""),
        ("plain text, no tags }} {", "plain text, no tags }} {"),
        ("{{username}}", "app"),
        ("{{ username }}:{{  port  }}", "app:5432"),
        (
            "postgres://{{ username }}:{{ password | urlquote }}@db/app",
            "postgres://app:p%40ss%3Aw%2Frd%20%C3%BC@db/app",
        ),
        ("{{ password | json }}", '"p@ss:w/rd ü"'),
        ("{{ username | base64 }}", "YXBw"),
        ("[{{ pad | trim }}]", "[x]"),
        ("{{ username | upper }}{{ username|upper|lower }}", "APPapp"),
        ("{{ '{{' }} literal {{ \"}\" }}", "{{ literal }"),
        ("line1\n{{ port }}\n", "line1\n5432\n"),
    ],
)
def test_render(text: str, expected: str) -> None:
    assert compile_template(text).render(FIELDS) == expected


def test_field_names() -> None:
    template = compile_template("{{ a }} {{ b | json }} {{ 'c' }} {{ a }}")
    assert template.field_names == frozenset({"a", "b"})


def test_missing_field_is_an_error_not_empty(canary: str) -> None:
    template = compile_template("user={{ username }} pass={{ nope }}")
    with pytest.raises(RenderError, match="'nope'") as info:
        template.render({"username": canary})
    assert canary not in str(info.value)


def test_dotted_name_is_a_field_name_not_attribute_access() -> None:
    template = compile_template("{{ db.password }}")
    assert template.render({"db.password": "x"}) == "x"
    with pytest.raises(RenderError):
        template.render({"db": {"password": "x"}})  # type: ignore[dict-item]


def test_non_string_values_render_as_json() -> None:
    assert compile_template("{{ n }} {{ b }}").render({"n": 5, "b": True}) == "5 true"


@pytest.mark.parametrize(
    "text",
    [
        "{{ username",
        "a {{ }}",
        "{{ user name }}",
        "{{ username | nope }}",
        "{{ username | }}",
        "{{ __import__('os').system('id') }}",
        "{{ password() }}",
        "{{ a[0] }}",
        "{{ 'unterminated }}",
    ],
)
def test_syntax_errors(text: str) -> None:
    with pytest.raises(TemplateSyntaxError):
        compile_template(text)


def test_no_statements_only_tags() -> None:
    text = "{% for x in y %}{{ x }}"
    assert compile_template(text).render({"x": "1"}) == "{% for x in y %}1"


def test_syntax_error_position_without_echoing_text(canary: str) -> None:
    with pytest.raises(TemplateSyntaxError) as info:
        compile_template(f"ok\n  {canary} {{{{ bad tag }}}}")
    message = str(info.value)
    assert "line 2, column" in message
    assert canary not in message
