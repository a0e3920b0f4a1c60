"""Key validation: the grammar, the limits, the (secret path, field) split."""

from __future__ import annotations

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st
from libs.secrets import InvalidSecretKeyError
from libs.secrets.keys import validate_key, validate_relative_path


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("alpaca/api_key_id", ("alpaca", "api_key_id")),
        ("team/app/db/password", ("team/app/db", "password")),
        ("api_token", ("", "api_token")),
        ("a.b/c..d", ("a.b", "c..d")),
        ("x/user@host+tag=1-2_3", ("x", "user@host+tag=1-2_3")),
    ],
)
def test_split(key: str, expected: tuple[str, str]) -> None:
    assert validate_key(key) == expected


def test_segment_and_key_limits() -> None:
    validate_key("a" * 255)
    with pytest.raises(InvalidSecretKeyError, match="255"):
        validate_key("a" * 256)
    base = "/".join(["a" * 255] * 3 + ["a" * 254])  # 1022 bytes
    assert len(validate_key(base + "/b")[0]) == 1022  # 1024 bytes: the limit
    with pytest.raises(InvalidSecretKeyError, match="1024"):
        validate_key(base + "/bb")


@pytest.mark.parametrize(
    "path",
    ["", "/abs", "a/../b", "..", ".", "a/.b", "a\\b", "a\x00b", "a\x1fb", "a//b", "a/", "é"],
)
def test_relative_path_rejects(path: str) -> None:
    with pytest.raises(InvalidSecretKeyError):
        validate_relative_path(path)


def test_error_is_value_error_and_message_shows_the_key() -> None:
    with pytest.raises(ValueError, match="must be relative") as info:
        validate_key("/etc/passwd")
    assert "/etc/passwd" in str(info.value)


_SEGMENT = st.text(string.ascii_letters + string.digits + "_.@+=-", min_size=1, max_size=20).filter(
    lambda s: not s.startswith(".")
)


@given(st.lists(_SEGMENT, min_size=1, max_size=6))
def test_valid_keys_round_trip(segments: list[str]) -> None:
    key = "/".join(segments)
    secret_path, field = validate_key(key)
    assert field == segments[-1]
    assert secret_path == "/".join(segments[:-1])
