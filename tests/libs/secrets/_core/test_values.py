"""The text of values: one serialisation, and no RecursionError from a hostile document."""

from __future__ import annotations

import json

import pytest
from libs.secrets._core.values import NestingTooDeepError, decode_object, field_text, object_text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("plain", "plain"),
        (42, "42"),
        (True, "true"),
        (None, "null"),
        ({"städt": ["ü", 1.5]}, '{"städt":["ü",1.5]}'),
    ],
)
def test_field_text(value: object, text: str) -> None:
    assert field_text(value) == text


def test_object_text_is_compact_and_keeps_unicode() -> None:
    assert object_text({"a": "ü", "b": {"c": 1}}) == '{"a":"ü","b":{"c":1}}'


def test_decode_object() -> None:
    assert decode_object(' {"a": 1}') == {"a": 1}
    assert decode_object("[1]") is None
    assert decode_object("{not json") is None
    assert decode_object("plain text") is None


def test_deep_nesting_is_not_an_object_and_never_raises() -> None:
    deep = '{"a":' * 100_000 + "1" + "}" * 100_000
    assert decode_object(deep) is None
    nested: object = 1
    for _ in range(100_000):
        nested = [nested]
    with pytest.raises(NestingTooDeepError):
        field_text(nested)
    assert json.loads(field_text([[1]])) == [[1]]
