"""data_from_object and SecretData: the raw JSON made when first needed, the size rule kept."""

from __future__ import annotations

import json

import pytest
from secrets_agent.sources.base import MAX_SECRET_BYTES, data_from_object
from secrets_agent.sources.result import InvalidResponseError, SecretData

OBJECT = {"user": "app", "password": 'pä\n"ss', "port": 5432, "tags": ["a", {"b": None}]}


def test_raw_is_the_compact_json_of_the_object_made_on_demand() -> None:
    data = data_from_object(dict(OBJECT), path="db", version="3")
    assert data._raw is None  # not made until asked for
    assert data.raw == json.dumps(OBJECT, ensure_ascii=False, separators=(",", ":"))
    assert data.fields == {
        "user": "app",
        "password": 'pä\n"ss',
        "port": "5432",
        "tags": '["a",{"b":null}]',
    }
    assert data == SecretData(fields=data.fields, raw=data.raw, version="3")
    assert "pä" not in repr(data) and "app" not in str(data)


def test_a_given_raw_is_kept() -> None:
    data = data_from_object({"k": "v"}, path="p", version=None, raw='{"k": "v"}')
    assert data.raw == '{"k": "v"}'


def test_a_secret_over_the_limit_is_refused_without_its_value() -> None:
    big = "é" * (MAX_SECRET_BYTES // 2 + 1)  # 2 bytes each: over the limit only when encoded
    with pytest.raises(InvalidResponseError) as info:
        data_from_object({"k": big}, path="big", version=None)
    assert "big" in str(info.value) and "é" not in str(info.value)


def test_a_secret_just_under_the_limit_passes() -> None:
    data = data_from_object({"k": "x" * (MAX_SECRET_BYTES - 20)}, path="p", version=None)
    assert len(data.raw.encode()) <= MAX_SECRET_BYTES


def test_secret_data_needs_a_payload() -> None:
    with pytest.raises(TypeError):
        SecretData(fields=None)
