"""Backend outages: Vault sealed, down, hanging, 429 storms, 500s; AWS throttling and 5xx.

While the backend is out the files stay exactly as they were (same inode, same bytes), status
reports the failure, the agent's CPU use stays low (no busy loop), and after the backend returns
every secret is fresh again within the bound the outage policy allows (``recovery_bound``).
Three daemons, each against its own dev server, go through the five Vault outages side by side.
"""

from __future__ import annotations

import contextlib
import json
import random
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from aws_fault_front import AwsFaultFront
from fake_sources import FakeSource, agent_config, spec
from reliability_kit import Daemon, cpu_seconds, record, snapshot, vault_toml, wait_for
from secrets_agent.config.load import AwsBackendConfig
from secrets_agent.daemon import outage as pacing
from secrets_agent.daemon.agent import Agent
from secrets_agent.daemon.backoff import failure_delay
from secrets_agent.daemon.publish import PUBLISH_INTERVAL
from secrets_agent.notify import Notifier

INTERVAL = 1.5  # refresh interval of the daemon: the probe's backoff ceiling
TIMEOUT = 1.0  # the daemon's backend timeout
OUTAGE = 2.0
SLACK = 1.0  # process scheduling and the catch-up fetch itself


def recovery_bound(outage: float, retry_after: float | None = None) -> float:
    """The longest the policy lets recovery take once the backend is back (seconds).

    A probe may be in flight when the backend returns and fail at its timeout; the next probe
    comes at most one backoff later (``failure_delay`` up to the probe's ceiling,
    ``pacing.probe_ceiling``; ``Retry-After`` a floor); once it answers, held secrets are spread
    over the catch-up window (``pacing.catch_up_window``); then one fetch (``SLACK``) and the
    next coalesced status write (``PUBLISH_INTERVAL``).
    """

    class _Top(random.Random):
        def uniform(self, a: float, b: float) -> float:
            return max(a, b)  # the longest draw the backoff can make

    cap = pacing.probe_ceiling(pacing.DEFAULT_PROBE_MAX, [INTERVAL] * 3)
    probe = max(failure_delay(n, cap, _Top(), retry_after=retry_after) for n in (1, 30))
    window = pacing.catch_up_window(outage, INTERVAL)
    return TIMEOUT + probe + window + PUBLISH_INTERVAL + SLACK


def test_recovery_bound_follows_the_policy() -> None:
    # probe <= the interval (a small agent), window <= 0.9 interval: 1 + 1.5 + 1.35 + 1 + 1 s
    window = 0.9 * INTERVAL
    assert recovery_bound(OUTAGE) == pytest.approx(TIMEOUT + INTERVAL + window + 2 * SLACK)
    assert recovery_bound(OUTAGE, retry_after=3.0) == pytest.approx(
        TIMEOUT + 3.0 + window + 2 * SLACK
    )
    assert recovery_bound(OUTAGE) < INTERVAL + 10  # still well inside the test's patience


def _phase(
    daemon: Daemon,
    name: str,
    begin: Callable[[], None],
    end: Callable[[], None],
    *,
    check: Callable[[], None] | None = None,
    retry_after: float | None = None,
) -> dict[str, float]:
    before = snapshot(daemon.out)
    cpu0, t0 = cpu_seconds(daemon.pid), time.monotonic()
    begin()
    detected = wait_for(daemon.all_failing, timeout=15)
    assert detected is not None, f"{name}: failures not reported in status"
    time.sleep(max(0.0, OUTAGE - (time.monotonic() - t0)))
    if check is not None:
        check()
    cpu1, t1 = cpu_seconds(daemon.pid), time.monotonic()
    untouched = snapshot(daemon.out) == before
    back = time.time()
    end()
    bound = recovery_bound(time.monotonic() - t0, retry_after)
    recovered = wait_for(lambda: daemon.all_ok_since(back), timeout=bound + 10)
    assert untouched, f"{name}: files changed during the outage"
    assert recovered is not None, f"{name}: not recovered"
    assert recovered <= bound, f"{name}: recovery took {recovered:.2f}s (bound {bound:.2f}s)"
    result = {"cpu": (cpu1 - cpu0) / (t1 - t0), "recovered": recovered, "detected": detected}
    return result | {"bound": bound}


# Each daemon goes through its outages one after the other (the gate and the backoff must be
# back to normal after each); the three daemons run side by side, each against its own server.
PLANS = (("sealed", "down"), ("hanging", "500"), ("429 Retry-After 3",))


def test_vault_outages(vault: Any, tmpfs_dir: Path) -> None:
    from secrets_agent.devserver import VaultDevServer

    with contextlib.ExitStack() as stack:
        servers = [vault, *(stack.enter_context(VaultDevServer()) for _ in PLANS[1:])]
        with ThreadPoolExecutor(len(PLANS)) as pool:
            runs = [
                pool.submit(_vault_outages, server, tmpfs_dir / f"daemon{i}", plan)
                for i, (server, plan) in enumerate(zip(servers, PLANS, strict=True))
            ]
            results = {name: r for run in runs for name, r in run.result().items()}
    for name, r in results.items():
        record(
            f"outage: vault {name}",
            tried=1,
            lost=0,
            unit="outage",
            cpu_while_down=f"{r['cpu'] * 100:.1f}%",
            recovered_after=f"{r['recovered']:.2f}s",
            bound=f"{r['bound']:.2f}s",
            backoff_cap=f"{INTERVAL}s",
        )
    for name, r in results.items():
        assert r["cpu"] < 0.25, f"{name}: {r['cpu']:.2%} CPU while down"


def _vault_outages(vault: Any, root: Path, kinds: tuple[str, ...]) -> dict[str, dict[str, float]]:
    """A daemon against ``vault`` through the outages ``kinds``, one after the other."""
    paths = ["app/db", "app/api", "billing"]
    for i, p in enumerate(paths):
        vault.put_secret(p, {"user": f"u{i}", "password": f"pw-{i}-" + "z" * 40})
    root.mkdir()
    out = root / "out"
    config = root / "agent.toml"
    auth = f'{{ method = "token", token = "{vault.root_token}" }}'
    config.write_text(
        vault_toml(out, vault.url, paths, auth=auth, interval=f"{INTERVAL}s", timeout="1s")
    )
    results: dict[str, dict[str, float]] = {}
    with Daemon(config, out, level="info") as daemon:
        assert wait_for(lambda: daemon.all_ok_since(0), timeout=20) is not None, daemon.output

        def honours_retry_after() -> None:
            for e in daemon.secrets():
                assert e["next_refresh_at"] - e["last_attempt_at"] >= 3.0 - 0.01, e

        def storm_429() -> None:
            vault.reset_counters()
            vault.fail_next(100_000, 429, retry_after=3)

        phases: dict[str, tuple[str, Callable[[], None], Callable[[], None], dict[str, Any]]] = {
            "sealed": ("sealed", vault.seal, vault.unseal, {}),
            "down": ("down (refused)", vault.stop, vault.start, {}),
            "hanging": ("hanging", lambda: vault.hang(True), lambda: vault.hang(False), {}),
            "429 Retry-After 3": (
                "429",
                storm_429,
                vault.clear_faults,
                {"check": honours_retry_after, "retry_after": 3.0},
            ),
            "500": ("500", lambda: vault.fail_next(100_000, 500), vault.clear_faults, {}),
        }
        for kind in kinds:
            name, begin, end, options = phases[kind]
            results[kind] = _phase(daemon, name, begin, end, **options)
        log = daemon.output
    assert b"Traceback" not in log
    return results


@pytest.mark.parametrize(
    ("code", "status", "retry_after"),
    [("ThrottlingException", 400, 7.0), ("InternalServiceError", 500, None)],
)
def test_aws_faults(
    aws_env: str, tmpfs_dir: Path, code: str, status: int, retry_after: float | None
) -> None:
    import boto3

    sm = boto3.client("secretsmanager", region_name="us-east-1", endpoint_url=aws_env)
    names = [f"svc/s{i}" for i in range(25)]  # two batches
    for n in names:
        sm.create_secret(Name=n, SecretString=json.dumps({"password": f"p-{n}"}))
    with AwsFaultFront(aws_env) as front:
        backend = AwsBackendConfig(region="us-east-1", endpoint_url=front.url, timeout=2.0)
        out = tmpfs_dir / "out"
        clock = [1000.0]
        agent = Agent(
            agent_config(out, [spec(n, interval=60.0) for n in names], backend=backend),
            notifier=Notifier(None),
            clock=lambda: clock[0],
        )
        try:
            assert agent.sync_once().ok
            before = snapshot(out)
            for op in ("BatchGetSecretValue", "GetSecretValue"):
                front.fail(op, code, status=status, times=10_000, retry_after=retry_after)
            front.calls.clear()
            clock[0] += 100
            report = agent.sync_once()
            assert not report.ok and len(report.failed) == len(names)
            assert snapshot(out) == before
            states = agent.states()
            assert all(code in (s.last_error or "") for s in states)
            if retry_after is not None:
                assert all(s.next_refresh_at - clock[0] >= retry_after for s in states)  # type: ignore[operator]
            calls = sum(front.calls.values())
            front._faults.clear()
            clock[0] += 100
            recovered = agent.sync_once()
            assert recovered.ok and recovered.unchanged == len(names)
            assert snapshot(out) == before
        finally:
            agent.stop()
    record(
        f"outage: aws {code}",
        tried=len(names),
        lost=0,
        unit="secrets",
        requests_while_failing=calls,
        retry_after_honoured=retry_after is not None,
    )


def test_reader_serves_stale_if_error(vault: Any, tmpfs_dir: Path) -> None:
    from libs.secrets import VaultSecretManager

    vault.put_secret("app/db", {"password": "one"})
    clock = [0.0]
    manager = VaultSecretManager(
        {"address": vault.url, "token": vault.root_token, "timeout": 1.0, "secrets_dir": tmpfs_dir},
        ttl_seconds=10,
        timer=lambda: clock[0],
    )
    with manager:
        assert manager.get_secret("app/db/password") == "one"
        served = 0
        for fault in ("seal", "500", "429", "down"):
            if fault == "seal":
                vault.seal()
            elif fault == "500":
                vault.fail_next(1000, 500)
            elif fault == "429":
                vault.fail_next(1000, 429, retry_after=1)
            else:
                vault.stop()
            for _ in range(5):
                clock[0] += 11  # expired every time
                assert manager.get_secret("app/db/password") == "one"
                served += 1
            if fault == "seal":
                vault.unseal()
            elif fault == "down":
                vault.start()
            vault.clear_faults()
        # No cached value at all: the agent's file is the fallback.
        (tmpfs_dir / "app" / "db").mkdir(parents=True)
        (tmpfs_dir / "app" / "db" / "user").write_text("from-file")
        vault.seal()
        assert manager.get_secret("app/db/user") == "from-file"
        served += 1
        vault.unseal()
    record("outage: reader stale-if-error (vault)", tried=served, lost=0, unit="reads")


def test_fake_source_outage_keeps_files(tmpfs_dir: Path) -> None:
    """The refresh path with a source that fails in every way the model knows."""
    from secrets_agent.sources.result import (
        AccessDeniedError,
        AuthenticationError,
        BackendUnavailableError,
        InvalidResponseError,
        SecretMissingError,
        SourceError,
    )

    source = FakeSource()
    for i in range(5):
        source.set(f"s{i}", "1", {"k": f"v{i}"})
    out = tmpfs_dir / "out"
    clock = [0.0]
    agent = Agent(
        agent_config(out, [spec(f"s{i}", interval=30) for i in range(5)]),
        source=source,
        notifier=Notifier(None),
        clock=lambda: clock[0],
    )
    assert agent.sync_once().ok
    before = snapshot(out)
    errors = [
        BackendUnavailableError("down", retry_after=3),
        SecretMissingError("gone"),
        AccessDeniedError("denied"),
        InvalidResponseError("bad"),
        AuthenticationError("no login"),
        SourceError("other"),
    ]
    for err in errors:
        source.error = err
        clock[0] += 60
        assert not agent.sync_once().ok
        assert snapshot(out) == before
        assert all(s.last_error == str(err) for s in agent.states())
    source.error = None
    clock[0] += 60
    assert agent.sync_once().ok
    agent.stop()
    record(
        "outage: every SourceError kind keeps files", tried=len(errors) * 5, lost=0, unit="fails"
    )
