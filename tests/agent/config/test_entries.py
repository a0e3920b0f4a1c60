"""``[[secrets]]`` paths and default targets for AWS secret ids: names starting with "/" and
secret ARNs (the rules live in ``libs.secrets._core.paths``)."""

from __future__ import annotations

from typing import Any

import pytest
from secrets_agent.config.load import ConfigError, parse_config

ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-AbCdEf"


def aws_config(*secrets: dict[str, Any], region: str | None = "us-east-1") -> dict[str, Any]:
    backend: dict[str, Any] = {"type": "aws"}
    if region is not None:
        backend["region"] = region
    return {"agent": {"output_dir": "/run/secrets"}, "backend": backend, "secrets": list(secrets)}


def problems_of(data: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(data, environ={})
    return info.value.problems


def test_slash_names_and_arns_with_their_default_targets() -> None:
    config = parse_config(
        aws_config(
            {"path": "/prod/db"},
            {"path": ARN},
            {"path": f"{ARN[: -len('-AbCdEf')]}x"},  # a partial ARN of another secret
            {
                "path": "arn:aws:secretsmanager:us-east-1:123456789012:secret:/team/api",
                "target": "api",
            },
            {"path": "plain/name"},
        ),
        environ={},
    )
    assert [(s.path, s.target) for s in config.secrets] == [
        ("/prod/db", "prod/db"),
        (ARN, "prod/db-AbCdEf"),
        (f"{ARN[: -len('-AbCdEf')]}x", "prod/dbx"),
        ("arn:aws:secretsmanager:us-east-1:123456789012:secret:/team/api", "api"),
        ("plain/name", "plain/name"),
    ]


def test_a_slash_name_and_the_same_plain_name_clash_without_a_target() -> None:
    problems = problems_of(aws_config({"path": "prod/db"}, {"path": "/prod/db"}))
    assert problems == ["secrets[1].target: same target as secrets[0]"]
    data = aws_config({"path": "prod/db"}, {"path": "/prod/db", "target": "prod/db-abs"})
    assert [s.target for s in parse_config(data, environ={}).secrets] == ["prod/db", "prod/db-abs"]


def test_an_unusable_default_target_asks_for_a_target() -> None:
    (problem,) = problems_of(aws_config({"path": "/prod/../etc"}))
    assert problem.startswith(
        "secrets[0].target: the default target (derived from the secret's name) is not usable"
    )
    assert problem.endswith("; set target")
    config = parse_config(aws_config({"path": "/prod/../etc", "target": "etc"}), environ={})
    assert config.secrets[0].path == "/prod/../etc"


def test_an_arn_of_another_region_is_refused_at_load() -> None:
    (problem,) = problems_of(aws_config({"path": ARN}, region="eu-west-1"))
    assert problem == (
        "secrets[0].path: is an ARN in region 'us-east-1', but [backend] region is 'eu-west-1' "
        "(Secrets Manager serves a secret only from its own region)"
    )
    # without [backend] region the region comes from the environment: checked when reading
    assert parse_config(aws_config({"path": ARN}, region=None), environ={}).secrets[0].path == ARN


@pytest.mark.parametrize(
    ("path", "problem"),
    [
        ("arn:aws:s3:::bucket", "is not a Secrets Manager secret ARN"),
        ("arn:aws:secretsmanager:us-east-1:123456789012:secret:db#password", "is not a Secrets"),
        ("/prod/db#password", "characters other than letters, digits and / _ + = . @ -"),
        ("prod/db#password", "characters other than"),
        ("/prod db", "characters other than"),
        ("/" + "a" * 512, "longer than 512"),
        ("prod/db/", "must not end with '/'"),
    ],
)
def test_bad_aws_paths(path: str, problem: str) -> None:
    (found,) = problems_of(aws_config({"path": path}))
    assert found.startswith("secrets[0].path: ") and problem in found


def test_vault_paths_stay_relative() -> None:
    data = aws_config({"path": "/prod/db"}, {"path": ARN})
    data["backend"] = {
        "type": "vault",
        "address": "http://127.0.0.1:8200",
        "auth": {"method": "token", "token_file": "/etc/vault-token"},
    }
    problems = problems_of(data)
    assert len(problems) == 2
    for index, problem in enumerate(problems):
        assert problem == (
            f"secrets[{index}].path: must be a relative path (a name starting with '/' or an "
            "ARN is an AWS secret id; the vault backend takes relative paths)"
        )
