"""The AWS secret-id rules: names starting with "/", secret ARNs, ``SECRET_ID#FIELD`` keys."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from libs.secrets._core.paths import (
    VALID_PATH,
    arn_region,
    arn_region_problem,
    aws_default_target,
    aws_key_parts,
    aws_key_problem,
    aws_secret_id_problem,
    is_aws_secret_id_key,
    path_problem,
)

ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-AbCdEf"


@pytest.mark.parametrize(
    ("key", "parts"),
    [
        ("/prod/db#password", ("/prod/db", "password")),
        ("/prod/db", ("/prod/db", "")),
        ("prod/db#password", ("prod/db", "password")),
        (f"{ARN}#password", (ARN, "password")),
        (ARN, (ARN, "")),
        (
            "arn:aws-cn:secretsmanager:cn-north-1:123456789012:secret:x",
            ("arn:aws-cn:secretsmanager:cn-north-1:123456789012:secret:x", ""),
        ),
        (
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:/prod/db-AbCdEf#f",
            ("arn:aws:secretsmanager:us-east-1:123456789012:secret:/prod/db-AbCdEf", "f"),
        ),
    ],
)
def test_valid_keys_split_at_the_hash(key: str, parts: tuple[str, str]) -> None:
    assert is_aws_secret_id_key(key)
    assert aws_key_problem(key) is None
    assert aws_key_parts(key) == parts


@pytest.mark.parametrize(
    ("key", "problem"),
    [
        ("arn:aws:s3:::bucket", "is not a Secrets Manager secret ARN"),
        ("arn:aws:secretsmanager:us-east-1:12345:secret:x", "is not a Secrets Manager secret ARN"),
        ("arn:aws:secretsmanager:us-east-1:123456789012:key:x", "is not a Secrets Manager"),
        ("arn:aws:secretsmanager:us-east-1:123456789012:secret:", "is not a Secrets Manager"),
        ("#field", "empty secret name"),
        ("/prod/db#", "empty field after '#'"),
        ("/prod/db#a#b", "invalid field after '#'"),
        ("/prod/db#a/b", "invalid field after '#'"),
        ("/prod/db#..", "invalid field after '#'"),
        ("/prod/db#" + "f" * 256, "longer than 255"),
        ("/prod db", "characters other than letters, digits and / _ + = . @ -"),
        ("/prod/d\u00e9", "characters other than"),
        ("/" + "a" * 512, "longer than 512"),
    ],
)
def test_problems(key: str, problem: str) -> None:
    found = aws_key_problem(key)
    assert found is not None and problem in found
    assert key[:20] not in found or key.startswith("arn")  # the name is never repeated


def test_plain_keys_are_not_secret_id_keys() -> None:
    for key in ("prod/db/password", "token", "a-b/c.d"):
        assert not is_aws_secret_id_key(key)
    for key in ("/prod/db", "arn:aws:x", "db#f"):
        assert is_aws_secret_id_key(key)
        assert VALID_PATH.fullmatch(key) is None  # never a valid plain key: no ambiguity


def test_arn_region_and_its_check() -> None:
    assert arn_region(ARN) == "us-east-1"
    assert arn_region("/prod/db") is None
    assert arn_region_problem("/prod/db", "eu-west-1") is None
    assert arn_region_problem(ARN, "us-east-1") is None
    assert arn_region_problem(ARN, None) is None  # no region known: AWS decides
    problem = arn_region_problem(ARN, "eu-west-1", source="[backend] region")
    assert problem == (
        "is an ARN in region 'us-east-1', but [backend] region is 'eu-west-1' "
        "(Secrets Manager serves a secret only from its own region)"
    )


@pytest.mark.parametrize(
    ("secret_id", "target"),
    [
        ("/prod/db", "prod/db"),
        ("//prod/db", "prod/db"),
        (ARN, "prod/db-AbCdEf"),
        ("arn:aws:secretsmanager:us-east-1:123456789012:secret:/prod/db", "prod/db"),
        ("prod/db", "prod/db"),
    ],
)
def test_default_target(secret_id: str, target: str) -> None:
    assert aws_default_target(secret_id) == target


def test_a_default_target_may_be_unusable_and_says_so() -> None:
    for secret_id in ("/prod//db", "/prod/../etc", "/prod/.hidden"):
        assert aws_secret_id_problem(secret_id) is None  # valid AWS names...
        assert path_problem(aws_default_target(secret_id)) is not None  # ...but not file names


_NAME = st.text("abcXYZ019/_+=.@-", min_size=1, max_size=40)
_FIELD = st.text("abcXYZ019_+=@-", min_size=1, max_size=20)


@given(name=_NAME, field=_FIELD)
def test_any_name_and_field_round_trip(name: str, field: str) -> None:
    key = f"{name}#{field}"
    assert aws_key_problem(key) is None
    assert aws_key_parts(key) == (name, field)
