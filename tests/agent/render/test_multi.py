"""``render_output``: the bytes of a ``[[templates]]`` output, and its refusals."""

from __future__ import annotations

import pytest
from secrets_agent.config.schema import TemplateSpec
from secrets_agent.render.errors import RenderError
from secrets_agent.render.multi import render_output

SPEC = TemplateSpec(
    target="app.conf",
    template="{{ db.password }}|{{ api.key | base64 }}",
    sources=(("db", "postgres"), ("api", "alpaca")),
)


def test_renders_utf8_from_each_source() -> None:
    content = render_output(SPEC, {"db": {"password": "pä"}, "api": {"key": "k"}})
    assert content == "pä|aw==".encode()


def test_a_source_that_is_not_an_object_is_named() -> None:
    with pytest.raises(RenderError, match=r"source 'api' \(alpaca\) is not a JSON object"):
        render_output(SPEC, {"db": {"password": "p"}, "api": None})


def test_max_bytes_is_a_refusal_that_gives_the_size_not_the_text() -> None:
    small = TemplateSpec(
        target="t", template="{{ db.password }}", sources=(("db", "x"),), max_bytes=3
    )
    assert render_output(small, {"db": {"password": "abc"}}) == b"abc"
    with pytest.raises(RenderError) as info:
        render_output(small, {"db": {"password": "abcd-secret"}})
    assert "11 bytes, more than max_bytes = 3" in str(info.value)
    assert "secret" not in str(info.value)


def test_a_value_that_is_not_utf8_encodable_is_refused() -> None:
    with pytest.raises(RenderError, match="not encodable as UTF-8"):
        render_output(SPEC, {"db": {"password": "\udcff"}, "api": {"key": "k"}})
