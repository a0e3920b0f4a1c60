"""The AWS source with names starting with "/" and secret ARNs as paths, through real boto3
against moto's server (a counting front where the number of requests matters)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from aws_fault_front import AwsFaultFront
from secrets_agent.config.load import AwsBackendConfig
from secrets_agent.sources import create_source
from secrets_agent.sources.aws.source import AwsSource
from secrets_agent.sources.result import ConfigurationError, SecretData, SecretMissingError


@pytest.fixture
def sm(aws_env: str) -> Any:
    return boto3.client("secretsmanager", region_name="us-east-1", endpoint_url=aws_env)


@pytest.fixture
def front(aws_env: str) -> Iterator[Any]:
    with AwsFaultFront(aws_env) as f:
        yield f


def _source(endpoint: str, region: str | None = "us-east-1", **kw: Any) -> AwsSource:
    config = AwsBackendConfig(region=region, endpoint_url=endpoint, timeout=3.0, **kw)
    source = create_source(config, concurrency=4)
    assert isinstance(source, AwsSource)
    return source


def _fields(outcome: object) -> dict[str, str]:
    assert isinstance(outcome, SecretData), outcome
    assert outcome.fields is not None
    return dict(outcome.fields)


def test_names_full_and_partial_arns_in_one_batch(sm: Any, front: Any) -> None:
    arn = sm.create_secret(Name="/prod/db", SecretString=json.dumps({"pw": "one"}))["ARN"]
    other = sm.create_secret(Name="team/api", SecretString=json.dumps({"key": "two"}))["ARN"]
    partial = other[: -len("-AbCdEf")]
    source = _source(front.url)
    try:
        got = source.fetch_many(["/prod/db", arn, partial, "team/api"])
    finally:
        source.close()
    assert _fields(got["/prod/db"]) == _fields(got[arn]) == {"pw": "one"}
    assert _fields(got[partial]) == _fields(got["team/api"]) == {"key": "two"}
    assert front.calls["BatchGetSecretValue"] == 1
    assert front.calls["GetSecretValue"] == 0


def test_one_arn_and_a_stage_read_one_by_one(sm: Any, aws_env: str) -> None:
    arn = sm.create_secret(Name="/prod/db", SecretString=json.dumps({"pw": "v1"}))["ARN"]
    sm.put_secret_value(SecretId=arn, SecretString=json.dumps({"pw": "v2"}))
    source = _source(aws_env)
    try:
        assert _fields(source.fetch_many([arn])[arn]) == {"pw": "v2"}
        previous = source.fetch_many([arn, "/prod/db"], version_stage="AWSPREVIOUS")
        assert _fields(previous[arn]) == _fields(previous["/prod/db"]) == {"pw": "v1"}
        blue = source.fetch_many([arn], version_stage="BLUE")[arn]
    finally:
        source.close()
    assert isinstance(blue, SecretMissingError)
    assert str(blue) == f"AWS secret {arn!r} has no version labelled 'BLUE'"


def test_a_missing_arn_is_missing(sm: Any, aws_env: str) -> None:
    arn = sm.create_secret(Name="kept", SecretString="v")["ARN"]
    gone = arn.replace(":secret:kept", ":secret:gone")
    # another account's ARN: moto has no cross-account access (AWS serves it to a caller the
    # secret's resource policy allows), so it is as missing as a secret that does not exist
    foreign = arn.replace(":123456789012:", ":210987654321:")
    source = _source(aws_env)
    try:
        got = source.fetch_many([gone, foreign, arn])
    finally:
        source.close()
    assert isinstance(got[gone], SecretMissingError) and gone in str(got[gone])
    assert isinstance(got[foreign], SecretMissingError)
    assert isinstance(got[arn], SecretData)


def test_an_arn_of_another_region_than_the_clients_is_refused_without_a_request(
    sm: Any, front: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # [backend] region unset: the region comes from the environment (aws_env: us-east-1), so
    # the config check could not see it; the source refuses the ARN before any request.
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    arn = sm.create_secret(Name="db", SecretString=json.dumps({"pw": "x"}))["ARN"]
    west = boto3.client("secretsmanager", region_name="eu-west-1", endpoint_url=front.upstream)
    west_arn = west.create_secret(Name="db", SecretString=json.dumps({"pw": "w"}))["ARN"]
    source = _source(front.url, region=None)
    try:
        got = source.fetch_many([arn, west_arn])
        alone = source.fetch_many([arn])
    finally:
        source.close()
    for outcome in (got[arn], alone[arn]):
        assert isinstance(outcome, ConfigurationError)
        assert not outcome.retryable
        assert str(outcome) == (
            "AWS secret id is an ARN in region 'us-east-1', but the client's region is "
            "'eu-west-1' (Secrets Manager serves a secret only from its own region)"
        )
    assert _fields(got[west_arn]) == {"pw": "w"}
    assert front.calls["GetSecretValue"] == 1  # west_arn only
    assert front.calls["BatchGetSecretValue"] == 0
