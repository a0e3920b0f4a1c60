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


# -- AWS secret ids (rules in libs.secrets._core.paths) ----------------------------------------

_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-AbCdEf"


def test_aws_secret_ids_split_for_the_aws_backend_only() -> None:
    from libs.secrets.keys import is_secret_id_key

    assert validate_key("/prod/db#password", "aws") == ("/prod/db", "password")
    assert validate_key("/prod/db", "aws") == ("/prod/db", "")
    assert validate_key(f"{_ARN}#password", "aws") == (_ARN, "password")
    assert validate_key("prod/db/password", "aws") == ("prod/db", "password")  # as before
    assert is_secret_id_key("/prod/db") and not is_secret_id_key("prod/db/password")
    for backend in ("", "env", "file", "vault"):
        for key in ("/prod/db#password", f"{_ARN}#password", "prod/db#password"):
            with pytest.raises(InvalidSecretKeyError, match="only the aws backend") as info:
                validate_key(key, backend)
            assert repr(key) in str(info.value)
            if backend:
                assert f"not the {backend} backend" in str(info.value)


def test_a_bad_aws_secret_id_names_the_key() -> None:
    with pytest.raises(InvalidSecretKeyError, match=r"'/prod/db#' has an empty field"):
        validate_key("/prod/db#", "aws")
    with pytest.raises(InvalidSecretKeyError, match="not a Secrets Manager secret ARN"):
        validate_key("arn:aws:sqs:us-east-1:123456789012:queue#f", "aws")


@pytest.mark.parametrize(
    ("key", "file"),
    [
        ("alpaca/api_key_id", "alpaca/api_key_id"),
        ("/prod/db#password", "prod/db/password"),
        ("/prod/token", "prod/token"),
        ("prod/db#password", "prod/db/password"),
        (f"{_ARN}#password", "prod/db-AbCdEf/password"),
        ("/prod/../etc#passwd", None),  # a valid AWS name, but no file name: no fallback
        ("/prod/.x#f", None),
    ],
)
def test_agent_file_of(key: str, file: str | None) -> None:
    from libs.secrets.keys import agent_file_of

    validate_key(key, "aws")
    assert agent_file_of(key) == file
