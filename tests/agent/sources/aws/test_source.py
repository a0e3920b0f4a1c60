"""The AWS source through real boto3 against moto's server, with a fault front where needed."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from aws_fault_front import AwsFaultFront
from secrets_agent.config.load import AwsBackendConfig
from secrets_agent.logs import configure_logging
from secrets_agent.sources import create_source
from secrets_agent.sources.aws.source import AwsSource, data_from_value
from secrets_agent.sources.base import MAX_SECRET_BYTES
from secrets_agent.sources.result import (
    AccessDeniedError,
    BackendUnavailableError,
    InvalidResponseError,
    SecretData,
    SecretMissingError,
)


@pytest.fixture
def sm(aws_env: str) -> Any:
    return boto3.client("secretsmanager", region_name="us-east-1", endpoint_url=aws_env)


@pytest.fixture
def front(aws_env: str) -> Iterator[Any]:
    with AwsFaultFront(aws_env) as f:
        yield f


def _source(endpoint: str, **kw: Any) -> AwsSource:
    config = AwsBackendConfig(region="us-east-1", endpoint_url=endpoint, timeout=3.0, **kw)
    source = create_source(config, concurrency=4)
    assert isinstance(source, AwsSource)
    return source


def test_json_plain_and_binary_secrets(sm: Any, aws_env: str, canary: str) -> None:
    sm.create_secret(Name="app/db", SecretString=json.dumps({"user": "u", "password": canary}))
    sm.create_secret(Name="plain", SecretString=canary)
    sm.create_secret(Name="blob", SecretBinary=b"\x00\x01\xff")
    sm.create_secret(Name="list", SecretString="[1, 2]")
    results = _source(aws_env).fetch_many(["app/db", "plain", "blob", "list"])
    db = results["app/db"]
    assert isinstance(db, SecretData) and db.fields == {"user": "u", "password": canary}
    assert db.version and db.raw == json.dumps({"user": "u", "password": canary})
    plain = results["plain"]
    assert isinstance(plain, SecretData) and plain.fields is None and plain.raw == canary
    blob = results["blob"]
    assert isinstance(blob, SecretData) and blob.raw == b"\x00\x01\xff"
    assert isinstance(results["list"], SecretData) and results["list"].fields is None


def test_batches_of_twenty_and_per_secret_errors(sm: Any, front: Any) -> None:
    names = [f"svc/{i:02d}" for i in range(25)]
    for name in names:
        sm.create_secret(Name=name, SecretString=json.dumps({"n": name}))
    source = _source(front.url)
    results = source.fetch_many([*names, "svc/missing"])
    assert front.calls["BatchGetSecretValue"] == 2
    assert front.calls["GetSecretValue"] == 0
    assert all(isinstance(results[n], SecretData) for n in names)
    assert results["svc/07"].fields == {"n": "svc/07"}  # type: ignore[union-attr]
    assert isinstance(results["svc/missing"], SecretMissingError)


def test_batch_denied_falls_back_to_get_secret_value(sm: Any, front: Any) -> None:
    for name in ("a", "b", "c"):
        sm.create_secret(Name=name, SecretString=json.dumps({"k": name}))
    front.fail("BatchGetSecretValue", "AccessDeniedException")
    source = _source(front.url)
    results = source.fetch_many(["a", "b", "c"])
    assert all(isinstance(r, SecretData) for r in results.values())
    assert front.calls["GetSecretValue"] == 3
    source.fetch_many(["a", "b", "c"])  # remembered: no second batch attempt
    assert front.calls["BatchGetSecretValue"] == 1
    assert front.calls["GetSecretValue"] == 6


def test_throttling_is_retried_then_unavailable_with_retry_after(sm: Any, front: Any) -> None:
    sm.create_secret(Name="a", SecretString="x")
    sm.create_secret(Name="b", SecretString="y")
    front.fail("BatchGetSecretValue", "ThrottlingException", times=3, retry_after=9)
    results = _source(front.url).fetch_many(["a", "b"])
    assert front.calls["BatchGetSecretValue"] == 3  # standard mode: 3 attempts in all
    for result in results.values():
        assert isinstance(result, BackendUnavailableError)
        assert result.retry_after == 9.0


def test_internal_error_is_retried_and_can_recover(sm: Any, front: Any) -> None:
    sm.create_secret(Name="a", SecretString="x")
    front.fail("GetSecretValue", "InternalServiceError", status=500, times=2)
    result = _source(front.url).fetch_many(["a"])["a"]
    assert isinstance(result, SecretData)
    assert front.calls["GetSecretValue"] == 3
    front.fail("GetSecretValue", "InternalServiceError", status=500, times=3)
    assert isinstance(_source(front.url).fetch_many(["a"])["a"], BackendUnavailableError)


def test_access_denied_and_decryption_failure(sm: Any, front: Any) -> None:
    sm.create_secret(Name="a", SecretString="x")
    front.fail("GetSecretValue", "AccessDeniedException")
    assert isinstance(_source(front.url).fetch_many(["a"])["a"], AccessDeniedError)
    front.fail("GetSecretValue", "DecryptionFailure")
    assert isinstance(_source(front.url).fetch_many(["a"])["a"], AccessDeniedError)


def test_version_stage_uses_get_secret_value(sm: Any, front: Any) -> None:
    sm.create_secret(Name="rot", SecretString="old")
    sm.put_secret_value(SecretId="rot", SecretString="new")
    sm.create_secret(Name="other", SecretString="o")
    source = _source(front.url)
    previous = source.fetch_many(["rot", "other"], version_stage="AWSPREVIOUS")
    assert previous["rot"].raw == "old"  # type: ignore[union-attr]
    assert front.calls["BatchGetSecretValue"] == 0
    current = source.fetch_many(["rot", "other"])
    assert current["rot"].raw == "new"  # type: ignore[union-attr]
    assert front.calls["BatchGetSecretValue"] == 1
    staged = _source(front.url, version_stage="AWSPREVIOUS").fetch_many(["rot"])
    assert staged["rot"].raw == "old"  # type: ignore[union-attr]


def test_secret_scheduled_for_deletion_is_missing(sm: Any, aws_env: str) -> None:
    sm.create_secret(Name="doomed", SecretString="x")
    sm.create_secret(Name="kept", SecretString="y")
    sm.delete_secret(SecretId="doomed", RecoveryWindowInDays=7)
    results = _source(aws_env).fetch_many(["doomed", "kept"])
    assert isinstance(results["doomed"], SecretMissingError)
    assert isinstance(results["kept"], SecretData)


def test_arn_ids_are_matched(sm: Any, aws_env: str) -> None:
    arn = sm.create_secret(Name="by-arn", SecretString="x")["ARN"]
    sm.create_secret(Name="by-name", SecretString="y")
    results = _source(aws_env).fetch_many([arn, arn[:-7], "by-name"])
    assert all(isinstance(r, SecretData) for r in results.values())


def test_connection_refused_is_unavailable(aws_env: str) -> None:
    result = _source("http://127.0.0.1:9").fetch_many(["a"])["a"]
    assert isinstance(result, BackendUnavailableError)


@pytest.mark.parametrize(
    "value",
    [
        {"SecretString": 5},
        {"VersionId": 1, "SecretString": "x"},
        {"VersionId": "v"},
        {"SecretString": "y" * (MAX_SECRET_BYTES + 1)},
        ["not", "a", "dict"],
    ],
)
def test_malformed_values_are_invalid(value: Any) -> None:
    with pytest.raises(InvalidResponseError):
        data_from_value(value, path="p")


@pytest.fixture
def debug_log() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    levels = {n: logging.getLogger(n).level for n in ("botocore", "urllib3", "boto3")}
    stream = io.StringIO()
    configure_logging("debug", "json", stream=stream)
    yield stream
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


def test_values_never_logged_at_debug(
    sm: Any, front: Any, canary: str, debug_log: io.StringIO
) -> None:
    sm.create_secret(Name="a", SecretString=json.dumps({"k": canary}))
    sm.create_secret(Name="b", SecretString=canary)
    source = _source(front.url)
    assert all(isinstance(r, SecretData) for r in source.fetch_many(["a", "b"]).values())
    front.fail("BatchGetSecretValue", "InternalServiceError", status=500, times=3)
    source.fetch_many(["a", "b"])
    assert canary not in debug_log.getvalue()


def test_a_missing_stage_is_worded_apart_from_a_missing_secret(sm: Any, aws_env: str) -> None:
    sm.create_secret(Name="db", SecretString="x")
    results = _source(aws_env).fetch_many(["db", "nope"], version_stage="BLUE")
    assert isinstance(results["db"], SecretMissingError)
    assert "secret 'db' has no version labelled 'BLUE'" in str(results["db"])
    assert isinstance(results["nope"], SecretMissingError)
    assert "has no secret 'nope'" in str(results["nope"])


def test_a_deeply_nested_secret_fails_alone_in_its_batch(sm: Any, front: Any) -> None:
    depth = 5000
    sm.create_secret(Name="deep", SecretString='{"a":' * depth + "1" + "}" * depth)
    sm.create_secret(Name="fine", SecretString=json.dumps({"a": "ok"}))
    results = _source(front.url).fetch_many(["deep", "fine"])
    assert front.calls["BatchGetSecretValue"] == 1
    fine = results["fine"]
    assert isinstance(fine, SecretData) and fine.fields == {"a": "ok"}
    deep = results["deep"]
    assert isinstance(deep, SecretData) and deep.fields is None  # raw text, not fields


def test_an_unknown_region_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from secrets_agent.sources.result import ConfigurationError

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    for name in ("AWS_ENDPOINT_URL_SECRETS_MANAGER", "AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    config = AwsBackendConfig(region="eu-wset-1", timeout=2.0)
    result = create_source(config, concurrency=1).fetch_many(["a"])["a"]
    assert isinstance(result, ConfigurationError)
    assert "region 'eu-wset-1'" in str(result)
