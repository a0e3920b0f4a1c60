"""The template language over several secrets (``[[templates]]``): ``{{ source.field }}``."""

from __future__ import annotations

import pytest
from secrets_agent.render.errors import RenderError
from secrets_agent.render.template import TemplateSyntaxError, compile_template

SOURCES = ("db", "api")


def test_fields_of_each_source_render_with_filters() -> None:
    template = compile_template(
        "pw={{ db.password | json }} key={{ api.key.id }} lit={{ '{{' }}", sources=SOURCES
    )
    text = template.render_sources(
        {"db": {"password": 'p"w'}, "api": {"key.id": "K1", "password": "other"}}
    )
    assert text == 'pw="p\\"w" key=K1 lit={{'


def test_fields_by_source_lists_what_each_source_must_provide() -> None:
    template = compile_template("{{ db.user }}{{ db.password }}{{ api.key }}", sources=SOURCES)
    assert template.fields_by_source() == {
        "db": frozenset({"user", "password"}),
        "api": frozenset({"key"}),
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{{ password }}", "must name a source and a field"),
        ("{{ db. }}", "must name a source and a field"),
        ("{{ 1db.password }}", "must name a source and a field"),
        ("{{ cache.password }}", "source 'cache', which is not declared (sources: api, db)"),
        ("x\n  {{ db.password | shout }}", "unknown filter 'shout' at line 2, column 3"),
        ("{{ db.password", "unclosed"),
    ],
)
def test_bad_tags_are_syntax_errors_with_their_position(text: str, expected: str) -> None:
    with pytest.raises(TemplateSyntaxError) as info:
        compile_template(text, sources=SOURCES)
    assert expected in str(info.value)


def test_a_missing_field_names_source_and_field_never_a_value() -> None:
    template = compile_template("{{ db.password }}{{ api.key }}", sources=SOURCES)
    with pytest.raises(RenderError) as info:
        template.render_sources({"db": {"password": "s3cr3t-value"}, "api": {"other": "v2"}})
    message = str(info.value)
    assert "'key'" in message and "'api'" in message
    assert "s3cr3t-value" not in message and "v2" not in message


def test_a_source_without_data_is_an_error_not_an_empty_string() -> None:
    template = compile_template("{{ db.password }}", sources=SOURCES)
    with pytest.raises(RenderError):
        template.render_sources({})


def test_single_secret_templates_keep_bare_names() -> None:
    template = compile_template("{{ db.password }}")  # one secret: a field named "db.password"
    assert template.render({"db.password": "x"}) == "x"
    assert template.fields_by_source() == {}
