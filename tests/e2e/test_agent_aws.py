"""End to end: `secrets-agent run --once` against moto's server through a counting fault front."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from aws_fault_front import AwsFaultFront


@pytest.fixture
def front(aws_env: str) -> Iterator[Any]:
    with AwsFaultFront(aws_env) as f:
        yield f


def _config(path: Path, out: Path, endpoint: str, secrets: str) -> Path:
    path.write_text(
        f"""
[agent]
output_dir = "{out}"
[backend]
type = "aws"
region = "us-east-1"
endpoint_url = "{endpoint}"
timeout = "3s"
{secrets}"""
    )
    return path


def _run_once(config: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "NOTIFY_SOCKET"}
    return subprocess.run(
        [sys.executable, "-m", "secrets_agent", "--log-level", "debug", "run", "--once",
         "--config", str(config)],
        capture_output=True, text=True, timeout=60, env=env,
    )  # fmt: skip


def test_batched_sync_of_25_secrets(
    aws_env: str, front: Any, tmp_path: Path, tmpfs_dir: Path, canary: str
) -> None:
    sm = boto3.client("secretsmanager", region_name="us-east-1", endpoint_url=aws_env)
    names = [f"svc/{i:02d}" for i in range(24)]
    for name in names:
        sm.create_secret(Name=name, SecretString=json.dumps({"password": canary + name}))
    sm.create_secret(Name="plain", SecretString=canary)
    secrets = "".join(f'[[secrets]]\npath = "{n}"\n' for n in names)
    secrets += '[[secrets]]\npath = "plain"\n'  # default format: a plain string is raw
    out = tmpfs_dir / "out"
    result = _run_once(_config(tmp_path / "c.toml", out, front.url, secrets))
    assert result.returncode == 0, result.stderr
    assert front.calls["BatchGetSecretValue"] == 2  # 25 ids in groups of 20
    assert front.calls["GetSecretValue"] == 0
    assert (out / "svc/07/password").read_text() == canary + "svc/07"
    assert (out / "plain").read_text() == canary
    assert (out / "plain").stat().st_mode & 0o777 == 0o400
    assert canary not in result.stderr + result.stdout


def test_throttled_and_missing_secrets_exit_1_without_values_in_logs(
    aws_env: str, front: Any, tmp_path: Path, tmpfs_dir: Path, canary: str
) -> None:
    sm = boto3.client("secretsmanager", region_name="us-east-1", endpoint_url=aws_env)
    sm.create_secret(Name="a", SecretString=json.dumps({"k": canary}))
    sm.create_secret(Name="b", SecretString=json.dumps({"k": canary}))
    out = tmpfs_dir / "out"
    config = _config(
        tmp_path / "c.toml", out, front.url, '[[secrets]]\npath = "a"\n[[secrets]]\npath = "b"\n'
    )
    front.fail("BatchGetSecretValue", "ThrottlingException", times=3)
    throttled = _run_once(config)
    assert throttled.returncode == 1
    assert "ThrottlingException" in throttled.stderr
    assert not (out / "a").exists()
    ok = _run_once(config)
    assert ok.returncode == 0
    inode = (out / "a/k").stat().st_ino
    sm.delete_secret(SecretId="b", ForceDeleteWithoutRecovery=True)
    missing = _run_once(config)
    assert missing.returncode == 1
    assert (out / "b/k").read_text() == canary  # the last good file is kept
    assert (out / "a/k").stat().st_ino == inode  # unchanged: not rewritten
    for run in (throttled, ok, missing):
        assert canary not in run.stderr + run.stdout


def test_secret_changing_between_plain_string_and_json_object(
    aws_env: str, front: Any, tmp_path: Path, tmpfs_dir: Path, canary: str
) -> None:
    sm = boto3.client("secretsmanager", region_name="us-east-1", endpoint_url=aws_env)
    sm.create_secret(Name="api", SecretString=canary)
    out = tmpfs_dir / "out"
    config = _config(tmp_path / "c.toml", out, front.url, '[[secrets]]\npath = "api"\n')
    runs = [_run_once(config)]
    assert (out / "api").read_text() == canary
    sm.put_secret_value(SecretId="api", SecretString=json.dumps({"key": canary + "-2"}))
    runs.append(_run_once(config))  # a new process: knows the old file from .status.json
    assert (out / "api/key").read_text() == canary + "-2"
    sm.put_secret_value(SecretId="api", SecretBinary=b"\x00" + canary.encode())
    runs.append(_run_once(config))
    assert (out / "api").read_bytes() == b"\x00" + canary.encode()
    assert sorted(p.name for p in out.iterdir()) == [".status.json", "api"]
    for run in runs:
        assert run.returncode == 0, run.stderr
        assert canary not in run.stderr + run.stdout


def test_slash_names_and_arns_with_check_and_run(
    aws_env: str, tmp_path: Path, tmpfs_dir: Path, canary: str
) -> None:
    sm = boto3.client("secretsmanager", region_name="us-east-1", endpoint_url=aws_env)
    sm.create_secret(Name="/prod/db", SecretString=json.dumps({"password": canary + "db"}))
    arn = sm.create_secret(Name="/team/api", SecretString=canary + "api")["ARN"]
    sm.create_secret(Name="staged", SecretString=json.dumps({"k": canary}))
    name = arn.split(":secret:/")[1]  # team/api-XXXXXX: the default target of the ARN
    secrets = (
        '[[secrets]]\npath = "/prod/db"\n'
        f'[[secrets]]\npath = "{arn}"\n'
        '[[secrets]]\npath = "staged"\nversion_stage = "BLUE"\n'
    )
    out = tmpfs_dir / "out"
    config = _config(tmp_path / "c.toml", out, aws_env, secrets)
    env = {k: v for k, v in os.environ.items() if k != "NOTIFY_SOCKET"}
    check = subprocess.run(
        [sys.executable, "-m", "secrets_agent", "check", "--config", str(config)],
        capture_output=True, text=True, timeout=60, env=env,
    )  # fmt: skip
    assert check.returncode == 1, check.stderr
    lines = check.stdout.splitlines()
    assert lines[1].startswith("ok    prod/db (/prod/db version ")
    assert lines[2].startswith(f"ok    {name} ({arn} version ")
    assert lines[3] == "FAIL  staged (staged): AWS secret 'staged' has no version labelled 'BLUE'"
    result = _run_once(config)
    assert result.returncode == 1
    assert (out / "prod/db/password").read_text() == canary + "db"
    assert (out / name).read_text() == canary + "api"
    assert canary not in result.stderr + result.stdout + check.stdout + check.stderr
    # an ARN of another region than [backend] region: refused at load, named
    config.write_text(config.read_text().replace('region = "us-east-1"', 'region = "eu-west-1"'))
    refused = subprocess.run(
        [sys.executable, "-m", "secrets_agent", "check", "--config", str(config)],
        capture_output=True, text=True, timeout=60, env=env,
    )  # fmt: skip
    assert refused.returncode == 2
    assert (
        "secrets[1].path: is an ARN in region 'us-east-1', but [backend] region is 'eu-west-1'"
        in refused.stdout + refused.stderr
    )
