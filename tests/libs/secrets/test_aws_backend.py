"""The AWS backend through real boto3 against moto's HTTP server (and a fault front)."""

from __future__ import annotations

import json
import re
import socket
import sys
from pathlib import Path
from typing import Any

import pytest
from libs.secrets import (
    AWSSecretsManager,
    InvalidSecretKeyError,
    SecretAccessDeniedError,
    SecretBackendUnavailableError,
    SecretConfigurationError,
    SecretManagerError,
    SecretNotFoundError,
)
from libs.secrets.outage_memory import FIRST_WINDOW_SECONDS

from .conftest import FakeTimer, FaultFront


def test_endpoint_from_the_service_specific_variable(aws_env: str, sm_client: Any) -> None:
    # aws_env sets only AWS_ENDPOINT_URL_SECRETS_MANAGER; botocore itself honours it
    sm_client.create_secret(Name="alpaca", SecretString=json.dumps({"api_key_id": "AKIA1"}))
    with AWSSecretsManager() as manager:
        assert manager.get_secret("alpaca/api_key_id") == "AKIA1"


def test_endpoint_from_the_generic_variable(
    aws_env: str, sm_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL_SECRETS_MANAGER")
    monkeypatch.setenv("AWS_ENDPOINT_URL", aws_env)
    sm_client.create_secret(Name="alpaca", SecretString=json.dumps({"api_key_id": "AKIA2"}))
    with AWSSecretsManager() as manager:
        assert manager.get_secret("alpaca/api_key_id") == "AKIA2"


def test_whole_plain_secret_fallback(aws_env: str, sm_client: Any) -> None:
    sm_client.create_secret(Name="alpaca/api_key_id", SecretString="plain-value")
    sm_client.create_secret(Name="api_token", SecretString='{"json": "kept whole"}')
    with AWSSecretsManager() as manager:
        assert manager.get_secret("alpaca/api_key_id") == "plain-value"
        assert manager.get_secret("api_token") == '{"json": "kept whole"}'
        with pytest.raises(SecretNotFoundError, match="neither"):
            manager.get_secret("alpaca/secret_key")


def test_non_json_secret_has_no_fields(aws_env: str, sm_client: Any) -> None:
    sm_client.create_secret(Name="plain", SecretString="not json at all")
    sm_client.create_secret(Name="listy", SecretString="[1, 2]")
    with AWSSecretsManager() as manager:
        for key in ("plain/field", "listy/field"):
            with pytest.raises(SecretNotFoundError, match="not a JSON object") as info:
                manager.get_secret(key)
            assert "not json at all" not in str(info.value)


def test_field_types(aws_env: str, sm_client: Any) -> None:
    sm_client.create_secret(Name="db", SecretString=json.dumps({"port": 5432, "on": False}))
    with AWSSecretsManager() as manager:
        assert manager.get_secret("db/port") == "5432"
        assert manager.get_secret("db/on") == "false"


def test_binary_secret(aws_env: str, sm_client: Any) -> None:
    sm_client.create_secret(Name="cert", SecretBinary=b"pem-text")
    sm_client.create_secret(Name="blob", SecretBinary=b"\xff\xfe")
    with AWSSecretsManager() as manager:
        assert manager.get_secret("cert") == "pem-text"
        with pytest.raises(SecretManagerError, match="binary"):
            manager.get_secret("blob")


def test_secret_scheduled_for_deletion_is_not_found(aws_env: str, sm_client: Any) -> None:
    sm_client.create_secret(Name="old", SecretString=json.dumps({"f": "v"}))
    sm_client.delete_secret(SecretId="old", RecoveryWindowInDays=7)
    with AWSSecretsManager() as manager, pytest.raises(SecretNotFoundError):
        manager.get_secret("old/f")


def test_version_stage(aws_env: str, sm_client: Any) -> None:
    sm_client.create_secret(Name="rot", SecretString=json.dumps({"k": "v1"}))
    sm_client.put_secret_value(SecretId="rot", SecretString=json.dumps({"k": "v2"}))
    with AWSSecretsManager({"version_stage": "AWSPREVIOUS"}) as manager:
        assert manager.get_secret("rot/k") == "v1"


@pytest.mark.parametrize(
    ("mode", "error"),
    [
        ("throttle", SecretBackendUnavailableError),
        ("500", SecretBackendUnavailableError),
        ("denied", SecretAccessDeniedError),
    ],
)
def test_faults_are_translated(aws_front: FaultFront, mode: str, error: type[Exception]) -> None:
    aws_front.mode = mode
    config = {"endpoint_url": aws_front.url, "max_attempts": 1}
    with AWSSecretsManager(config) as manager, pytest.raises(error) as info:
        manager.get_secret("alpaca/api_key_id")
    assert info.value.key == "alpaca/api_key_id"  # type: ignore[attr-defined]
    assert type(info.value.__cause__).__module__.startswith("botocore")
    assert aws_front.hits == 1


def test_standard_retries_then_success(
    aws_front: FaultFront, sm_client: Any, timer: FakeTimer
) -> None:
    sm_client.create_secret(Name="a", SecretString=json.dumps({"b": "c"}))
    config = {"endpoint_url": aws_front.url, "max_attempts": 3}
    with AWSSecretsManager(config, timer=timer) as manager:
        aws_front.mode = "500"
        with pytest.raises(SecretBackendUnavailableError):
            manager.get_secret("a/b")
        assert aws_front.hits == 3  # standard mode: three attempts in all
        aws_front.mode = None
        timer.advance(FIRST_WINDOW_SECONDS)  # the outage memory asks the backend again
        assert manager.get_secret("a/b") == "c"


def test_connection_refused_is_unavailable(aws_env: str) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = {"endpoint_url": f"http://127.0.0.1:{port}", "max_attempts": 1}
    with AWSSecretsManager(config) as manager, pytest.raises(SecretBackendUnavailableError):
        manager.get_secret("a/b")


def test_no_region_is_a_configuration_error(
    aws_env: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in ("AWS_DEFAULT_REGION", "AWS_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    with AWSSecretsManager() as manager, pytest.raises(SecretConfigurationError, match="region"):
        manager.get_secret("a/b")


def test_injected_client(aws_env: str, sm_client: Any) -> None:
    sm_client.create_secret(Name="a", SecretString=json.dumps({"b": "injected"}))
    with AWSSecretsManager(client=sm_client) as manager:
        assert manager.get_secret("a/b") == "injected"
    sm_client.list_secrets()  # an injected client is not closed by the manager


def test_missing_boto3_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "boto3", None)
    manager = AWSSecretsManager({"region": "us-east-1"})
    with pytest.raises(SecretConfigurationError, match=r"tmpfs-secrets\[aws\]"):
        manager.get_secret("a/b")


NESTED = {
    "cfg": {"städt": "München ü", "ports": [1, 2.5], "none": None},
    "n": 42,
    "flag": True,
    "text": "plain ü",
    "emoji": ["🔑"],
}


def test_nested_values_read_the_same_from_aws_and_from_the_agents_file(
    aws_env: str, sm_client: Any, tmp_path: Path, tmpfs_dir: Path
) -> None:
    """Issue 17: a service sees the same text whether AWS answers or the agent's file does."""
    import os
    import subprocess

    from libs.secrets import FileSecretManager

    sm_client.create_secret(Name="app", SecretString=json.dumps(NESTED))
    out = tmpfs_dir / "out"
    config = tmp_path / "agent.toml"
    config.write_text(
        f'[agent]\noutput_dir = "{out}"\n[backend]\ntype = "aws"\nregion = "us-east-1"\n'
        f'endpoint_url = "{aws_env}"\ntimeout = "3s"\n[[secrets]]\npath = "app"\n'
    )
    env = {k: v for k, v in os.environ.items() if k != "NOTIFY_SOCKET"}
    done = subprocess.run(
        [sys.executable, "-m", "secrets_agent", "run", "--once", "--config", str(config)],
        capture_output=True, text=True, timeout=60, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    with AWSSecretsManager() as direct, FileSecretManager(out) as files:
        for field in NESTED:
            key = f"app/{field}"
            assert direct.get_secret(key) == files.get_secret(key), key
        assert direct.get_secret("app/cfg") == '{"städt":"München ü","ports":[1,2.5],"none":null}'


@pytest.mark.parametrize("url", ["not a url", "http://exa mple:99", "ftp://[::1"])
def test_a_malformed_endpoint_url_is_a_configuration_error(aws_env: str, url: str) -> None:
    config = {"endpoint_url": url, "max_attempts": 1, "connect_timeout": 1}
    with AWSSecretsManager(config) as manager:
        with pytest.raises(SecretConfigurationError, match="endpoint") as info:
            manager.get_secret("a/b")
        # Not an outage: no stale value, no fallback file stands in for it.
        assert not isinstance(info.value, SecretBackendUnavailableError)


def test_an_unknown_region_is_a_configuration_error_not_an_outage(
    aws_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("AWS_ENDPOINT_URL_SECRETS_MANAGER", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    config = {"region": "eu-wset-1", "max_attempts": 1, "connect_timeout": 2, "read_timeout": 2}
    with (
        AWSSecretsManager(config) as manager,
        pytest.raises(SecretConfigurationError, match="region 'eu-wset-1'"),
    ):
        manager.get_secret("a/b")


def test_a_missing_stage_is_worded_apart_from_a_missing_secret(
    aws_env: str, sm_client: Any
) -> None:
    sm_client.create_secret(Name="db", SecretString=json.dumps({"pw": "x"}))
    with AWSSecretsManager({"version_stage": "BLUE"}) as manager:
        with pytest.raises(SecretNotFoundError, match="secret 'db' has no version labelled 'BLUE'"):
            manager.get_secret("db/pw")
        with pytest.raises(SecretNotFoundError, match="neither secret 'nope'"):
            manager.get_secret("nope/pw")
    with AWSSecretsManager({"version_stage": "AWSCURRENT"}) as manager:
        assert manager.get_secret("db/pw") == "x"


def test_a_deeply_nested_secret_fails_alone(aws_env: str, sm_client: Any) -> None:
    """Issue 13: JSON nested past Python's recursion limit is one key's error, never a crash."""
    depth = 5000
    sm_client.create_secret(Name="deep", SecretString='{"a":' * depth + "1" + "}" * depth)
    sm_client.create_secret(Name="fine", SecretString=json.dumps({"a": "ok"}))
    with AWSSecretsManager() as manager:
        with pytest.raises(SecretNotFoundError, match="nested too deeply"):
            manager.get_secret("deep/a")
        assert manager.get_secret("fine/a") == "ok"


# -- secret ids: names starting with "/", ARNs, NAME#FIELD ------------------------------------


def test_a_name_starting_with_a_slash(aws_env: str, sm_client: Any) -> None:
    sm_client.create_secret(Name="/prod/db", SecretString=json.dumps({"password": "pw1"}))
    sm_client.create_secret(Name="/prod/token", SecretString="plain-token")
    with AWSSecretsManager() as manager:
        assert manager.get_secret("/prod/db#password") == "pw1"
        assert manager.get_secret("/prod/db") == json.dumps({"password": "pw1"})
        assert manager.get_secret("/prod/token") == "plain-token"
        with pytest.raises(SecretNotFoundError, match="field 'user' is not in secret '/prod/db'"):
            manager.get_secret("/prod/db#user")
        with pytest.raises(SecretNotFoundError, match="not a JSON object"):
            manager.get_secret("/prod/token#field")


def test_an_explicit_key_never_guesses(aws_env: str, sm_client: Any) -> None:
    # "db/password" as a plain key would fall back to a secret named "db/password"; the
    # NAME#FIELD form names secret "db" and its field only.
    sm_client.create_secret(Name="db/password", SecretString="whole")
    with AWSSecretsManager() as manager:
        assert manager.get_secret("db/password") == "whole"
        with pytest.raises(SecretNotFoundError, match="secret 'db' does not exist"):
            manager.get_secret("db#password")
    sm_client.create_secret(Name="db", SecretString=json.dumps({"password": "field"}))
    with AWSSecretsManager() as manager:
        assert manager.get_secret("db#password") == "field"


def test_full_and_partial_arns(aws_env: str, sm_client: Any) -> None:
    arn = sm_client.create_secret(Name="prod/db", SecretString=json.dumps({"password": "pw2"}))[
        "ARN"
    ]
    partial = arn[: -len("-AbCdEf")]  # an ARN without its random suffix
    assert partial.endswith(":secret:prod/db")
    with AWSSecretsManager() as manager:
        assert manager.get_secret(f"{arn}#password") == "pw2"
        assert manager.get_secret(f"{partial}#password") == "pw2"
        assert manager.get_secret(arn) == json.dumps({"password": "pw2"})


def test_an_arn_of_another_account_is_sent_as_written(aws_env: str, sm_client: Any) -> None:
    # AWS serves another account's secret to a caller its resource policy allows; moto has no
    # cross-account access and answers ResourceNotFoundException. What this checks: the ARN
    # goes to AWS unchanged and the answer names it.
    arn = sm_client.create_secret(Name="shared", SecretString="v")["ARN"]
    other = arn.replace(":123456789012:", ":210987654321:")
    with AWSSecretsManager() as manager:
        with pytest.raises(SecretNotFoundError, match="210987654321") as info:
            manager.get_secret(f"{other}#password")
        assert "does not exist" in str(info.value)


def test_an_arn_of_another_region_is_a_configuration_error(
    aws_env: str, sm_client: Any, tmp_path: Path
) -> None:
    arn = sm_client.create_secret(Name="db", SecretString=json.dumps({"pw": "x"}))["ARN"]
    elsewhere = arn.replace(":us-east-1:", ":eu-west-1:")
    front = FaultFront(aws_env)
    try:
        config = {"endpoint_url": front.url, "secrets_dir": str(tmp_path)}
        with AWSSecretsManager(config) as manager:
            with pytest.raises(
                SecretConfigurationError,
                match=r"ARN in region 'eu-west-1', but the configured region is 'us-east-1'",
            ):
                manager.get_secret(f"{elsewhere}#pw")
            assert front.hits == 0  # refused before any request
            assert manager.get_secret(f"{arn}#pw") == "x"
    finally:
        front.close()
    import boto3

    west = boto3.client("secretsmanager", region_name="eu-west-1", endpoint_url=aws_env)
    west_arn = west.create_secret(Name="db", SecretString=json.dumps({"pw": "w"}))["ARN"]
    with AWSSecretsManager({"region": "eu-west-1"}) as manager:
        assert manager.get_secret(f"{west_arn}#pw") == "w"
        with pytest.raises(SecretConfigurationError, match="configured region is 'eu-west-1'"):
            manager.get_secret(f"{arn}#pw")


def test_a_stage_no_version_carries_names_the_secret_id(aws_env: str, sm_client: Any) -> None:
    arn = sm_client.create_secret(Name="/prod/db", SecretString=json.dumps({"pw": "x"}))["ARN"]
    with AWSSecretsManager({"version_stage": "BLUE"}) as manager:
        for key, secret_id in ((f"{arn}#pw", arn), ("/prod/db#pw", "/prod/db")):
            with pytest.raises(
                SecretNotFoundError, match=f"secret '{secret_id}' has no version labelled 'BLUE'"
            ):
                manager.get_secret(key)
        with pytest.raises(SecretNotFoundError, match="secret '/prod/nope' does not exist"):
            manager.get_secret("/prod/nope#pw")


def test_malformed_secret_ids_are_rejected_before_any_request(aws_front: FaultFront) -> None:
    config = {"endpoint_url": aws_front.url, "region": "us-east-1"}
    with AWSSecretsManager(config) as manager:
        for key, problem in (
            ("arn:aws:s3:::bucket#f", "is not a Secrets Manager secret ARN"),
            ("arn:aws:secretsmanager:us-east-1:123:secret:db#f", "is not a Secrets Manager"),
            ("/prod/db#", "empty field after '#'"),
            ("/prod/db#a/b", "invalid field after '#'"),
            ("/prod/db#.hidden", "invalid field after '#'"),
            ("/prod db#f", "characters other than letters, digits and / _ + = . @ -"),
            ("/" + "a" * 512, "longer than 512"),
        ):
            with pytest.raises(InvalidSecretKeyError, match=re.escape(problem)):
                manager.get_secret(key)
    assert aws_front.hits == 0


def test_an_arn_key_falls_back_to_the_agents_file(
    aws_env: str, sm_client: Any, tmp_path: Path
) -> None:
    arn = sm_client.create_secret(Name="/prod/db", SecretString=json.dumps({"pw": "x"}))["ARN"]
    # The agent's default target for this ARN is the name without its leading "/".
    name = arn.split(":secret:")[1].lstrip("/")
    (tmp_path / name).mkdir(parents=True)
    (tmp_path / name / "pw").write_text("from-file")
    (tmp_path / "prod" / "db").mkdir(parents=True)
    (tmp_path / "prod" / "db" / "pw").write_text("from-file-2")
    front = FaultFront(aws_env)
    try:
        config = {
            "endpoint_url": front.url,
            "region": "us-east-1",
            "secrets_dir": str(tmp_path),
            "max_attempts": 1,
        }
        with AWSSecretsManager(config) as manager:
            front.mode = "500"
            assert manager.get_secret(f"{arn}#pw") == "from-file"
            assert manager.get_secret("/prod/db#pw") == "from-file-2"
    finally:
        front.close()
