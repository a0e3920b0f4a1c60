"""Agent against moto's server (own process, counting requests) for 1,000 AWS secrets.

Baseline: one ``GetSecretValue`` per secret with boto3, the client built once, JSON fields
written as plain files. API calls are counted by a WSGI front in moto's process, per action.
"""

from __future__ import annotations

import json
import shutil
import statistics
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from benchkit import harness, procs, report, sync
from benchkit.report import SummaryRow, fmt_ratio, verdict

pytestmark = pytest.mark.bench

COUNT = 1_000
ROUNDS = 3
FIELDS = 2


@pytest.fixture(scope="module")
def moto() -> Iterator[procs.ServerProcess]:
    with procs.ServerProcess("moto_proc.py") as server:
        yield server


@pytest.fixture
def aws_client(moto: procs.ServerProcess, monkeypatch: pytest.MonkeyPatch) -> Any:
    import boto3

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for var in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(var, raising=False)
    url = moto.info["url"]
    procs.http_json(f"{url}/moto-api/reset", method="POST")
    return boto3.client("secretsmanager", region_name="us-east-1", endpoint_url=url)


def counts(moto: procs.ServerProcess) -> dict[str, Any]:
    result: dict[str, Any] = procs.http_json(f"{moto.info['url']}/__bench/counts")
    return result


def test_aws_sync(moto: procs.ServerProcess, aws_client: Any, tmpfs_dir: Path) -> None:
    try:
        import secrets_agent.daemon.agent  # noqa: F401
    except ImportError as exc:
        pytest.skip(f"agent not available: {exc}")
    url = moto.info["url"]
    names = [f"bench/s{i:05d}" for i in range(COUNT)]
    for i, name in enumerate(names):
        value = {f"field{j}": f"value-{i}-{j}" for j in range(FIELDS)}
        aws_client.create_secret(Name=name, SecretString=json.dumps(value))
    agent_out = tmpfs_dir / "agent"
    plain_out = tmpfs_dir / "plain"
    config = sync.parse(sync.aws_config_data(url, names, agent_out))
    calls: dict[str, list[dict[str, Any]]] = {"agent": [], "plain": []}

    def measured(side: str, fn: Callable[[], None], out: Path) -> Callable[[], float]:
        def run() -> float:
            procs.http_json(f"{url}/__bench/reset", method="POST")
            start = time.perf_counter()
            fn()
            seconds = time.perf_counter() - start
            calls[side].append(counts(moto))
            files = sum(1 for p in sync.snapshot(out) if not Path(p).name.startswith("."))
            assert files == COUNT * FIELDS, f"{side} wrote {files} files"
            shutil.rmtree(out)
            return seconds

        return run

    def run_agent() -> None:
        agent, result = sync.agent_sync(config)
        sync.close_agent(agent)
        assert result.ok, f"{len(result.failed)} secrets failed"

    def run_plain() -> None:
        sync.plain_aws_loop(aws_client, names, str(plain_out))

    samples = harness.interleave_calls(
        {
            "agent": measured("agent", run_agent, agent_out),
            "plain": measured("plain", run_plain, plain_out),
        },
        rounds=ROUNDS,
        baseline="plain",
    )
    agent_calls = statistics.median(c["total"] for c in calls["agent"])
    plain_calls = statistics.median(c["total"] for c in calls["plain"])
    agent_s = statistics.median(samples["agent"])
    plain_s = statistics.median(samples["plain"])
    report.add_table(
        f"Sync of {COUNT:,} AWS secrets from moto's server (own process)",
        ("side", "API calls", "by action", "wall s", "secrets/s"),
        [
            (
                label,
                f"{total:.0f}",
                ", ".join(f"{k} {v}" for k, v in sorted(calls[side][-1]["actions"].items())),
                f"{secs:.2f}",
                f"{COUNT / secs:,.0f}",
            )
            for side, label, total, secs in (
                ("agent", "agent (Agent + sync_once)", agent_calls, agent_s),
                ("plain", "plain GetSecretValue loop", plain_calls, plain_s),
            )
        ],
        note=f"Median of {ROUNDS} interleaved rounds; each starts from an empty output directory. "
        f"Wall ratio agent/plain (same round): "
        f"{fmt_ratio(statistics.median(samples['agent/ratio']))}.",
    )
    share = agent_calls / plain_calls
    report.add_summary(
        SummaryRow(
            f"agent sync of {COUNT:,} AWS secrets (moto server): API calls",
            f"{agent_calls:.0f} calls, {agent_s:.2f} s",
            f"one GetSecretValue each: {plain_calls:.0f} calls, {plain_s:.2f} s",
            f"1/{plain_calls / agent_calls:.0f} of the calls" if agent_calls else "0 calls",
            "<= 1/15 of the calls",
            verdict(share <= 1 / 15),
        )
    )
