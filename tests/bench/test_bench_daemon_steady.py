"""Steady state in-process: the running Agent (real APScheduler, real tmpfs) with a fast
in-memory source, at 1,000 and 10,000 secrets on a short interval (1,000 due refreshes a second).

Reported: the keep-up ratio (refreshes done / refreshes due over a measured window that starts
one interval after start, when the first-refresh spread is over), secrets overdue by more than a
second at the end, and the agent's CPU per scheduled refresh (process CPU time of the window,
every thread, divided by the refreshes done) against the CPU per secret of a one-shot
``sync_once()`` of the same secrets, both the first one (every file written) and a repeated one
(nothing changed, as in the steady state). The source costs a dictionary lookup: what is
measured is the agent's own overhead (scheduling, writing, status, metrics).
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from benchkit import report
from benchkit.report import SummaryRow, fmt_ratio, verdict

pytestmark = pytest.mark.bench

CASES = [(1_000, 1.0), (10_000, 10.0)]  # (secrets, refresh interval): 1,000 refreshes/s
WINDOW = 20.0


def _source(paths: Sequence[str]) -> Any:
    import threading

    from secrets_agent.sources.base import SourceBase
    from secrets_agent.sources.result import SecretData, SourceError

    class FastSource(SourceBase):
        name = "fast"

        def __init__(self) -> None:
            self.data = {
                p: SecretData(fields={"k": "v-" + p}, raw="{}", version="1") for p in paths
            }
            self.count = 0
            self.lock = threading.Lock()

        def fetch_many(
            self, paths: Sequence[str], *, version_stage: str | None = None
        ) -> dict[str, SecretData | SourceError]:
            with self.lock:
                self.count += len(paths)
            return {p: self.data[p] for p in paths}

    return FastSource()


def _agent(out: Path, n: int, interval: float, source: Any, metrics: Path) -> Any:
    from secrets_agent.config.load import (
        AgentSettings,
        AuthConfig,
        Config,
        SecretSpec,
        VaultBackendConfig,
    )
    from secrets_agent.daemon.agent import Agent
    from secrets_agent.notify import Notifier

    specs = tuple(
        SecretSpec(path=f"s{i:05d}", target=f"s{i:05d}", refresh_interval=interval)
        for i in range(n)
    )
    config = Config(
        agent=AgentSettings(output_dir=out, metrics_file=metrics),
        backend=VaultBackendConfig(address="http://127.0.0.1:9", auth=AuthConfig(method="token")),
        secrets=specs,
    )
    return Agent(config, source=source, notifier=Notifier(None), rng=random.Random(1))


@pytest.mark.parametrize(("n", "interval"), CASES, ids=[f"{n}" for n, _ in CASES])
def test_steady_state_keeps_up(tmpfs_dir: Path, n: int, interval: float) -> None:
    import logging

    logging.getLogger("secrets_agent").setLevel(logging.WARNING)
    paths = [f"s{i:05d}" for i in range(n)]
    # One-shot: a first sync (every file written), then a repeat (nothing changed).
    one = _source(paths)
    agent = _agent(tmpfs_dir / "one", n, interval, one, tmpfs_dir / "one.prom")
    c0 = time.process_time()
    assert agent.sync_once().ok
    c1 = time.process_time()
    assert agent.sync_once().ok
    c2 = time.process_time()
    agent.stop()
    first_per_secret = (c1 - c0) / n
    again_per_secret = (c2 - c1) / n

    source = _source(paths)
    agent = _agent(tmpfs_dir / "steady", n, interval, source, tmpfs_dir / "steady.prom")
    assert agent.sync_once().ok
    agent.start()
    try:
        time.sleep(interval + 1.0)  # the first refreshes are spread over one interval
        done0, cpu0, t0 = source.count, time.process_time(), time.monotonic()
        time.sleep(WINDOW)
        done1, cpu1, t1 = source.count, time.process_time(), time.monotonic()
        now = time.time()
        overdue = sum(1 for s in agent.states() if (s.next_refresh_at or now) < now - 1.0)
    finally:
        agent.stop()
    done = done1 - done0
    due = n * (t1 - t0) / interval  # the jittered interval averages the interval
    keep_up = done / due
    per_refresh = (cpu1 - cpu0) / max(done, 1)
    core = (cpu1 - cpu0) / (t1 - t0)
    ratio_first = per_refresh / first_per_secret
    ratio_again = per_refresh / again_per_secret
    print(
        f"\n{n} secrets every {interval:g}s: keep-up {keep_up:.3f} ({done} of {due:.0f} due),"
        f" {overdue} overdue at the end, agent CPU {core:.0%} of a core;"
        f" CPU per scheduled refresh {per_refresh * 1e6:.0f} us, one-shot per secret"
        f" {first_per_secret * 1e6:.0f} us (first sync) / {again_per_secret * 1e6:.0f} us"
        f" (unchanged): {ratio_first:.2f}x / {ratio_again:.2f}x"
    )
    report.add_table(
        f"steady state in-process, {n:,} secrets every {interval:g} s",
        [
            "keep-up",
            "overdue at end",
            "CPU (core)",
            "CPU/refresh",
            "one-shot/secret (first, unchanged)",
        ],
        [
            [
                f"{keep_up:.3f} ({done:,} of {due:,.0f})",
                str(overdue),
                f"{core:.0%}",
                f"{per_refresh * 1e6:.0f} us",
                f"{first_per_secret * 1e6:.0f} us, {again_per_secret * 1e6:.0f} us",
            ]
        ],
    )
    report.add_summary(
        SummaryRow(
            f"steady state, {n:,} secrets every {interval:g} s: keep-up",
            f"{keep_up:.3f}",
            f"{due:,.0f} due in {t1 - t0:.0f} s",
            "-",
            ">= 0.99",
            verdict(keep_up >= 0.99),
        )
    )
    report.add_summary(
        SummaryRow(
            f"steady state, {n:,} secrets: CPU per scheduled refresh",
            f"{per_refresh * 1e6:.0f} us",
            f"one-shot sync_once per secret {first_per_secret * 1e6:.0f} us",
            fmt_ratio(ratio_first),
            "<= 1.5x",
            verdict(ratio_first <= 1.5),
        )
    )
