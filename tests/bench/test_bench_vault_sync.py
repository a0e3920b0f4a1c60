"""Agent against the Vault dev server (running in its own process) into tmpfs.

- full sync of 100 / 1,000 / 10,000 secrets vs a plain sequential hvac + open().write() loop
- a refresh cycle with nothing changed: files written, CPU per 1,000 secrets
- resident memory with 10,000 secrets vs a bare interpreter with the same imports
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

PREFIX = "bench"
SIZES = {100: 5, 1_000: 5, 10_000: 2}  # secrets -> interleaved rounds
FIELDS = 2
STEADY_SIZES = (1_000, 10_000)


def require_agent() -> None:
    try:
        import secrets_agent.daemon.agent  # noqa: F401
        from secrets_agent.devserver import VaultDevServer  # noqa: F401
    except ImportError as exc:
        pytest.skip(f"agent or dev server not available: {exc}")


@pytest.fixture(scope="module")
def vault() -> Iterator[procs.ServerProcess]:
    """The dev server in a separate process, seeded with 10,000 two-field secrets."""
    require_agent()
    with procs.ServerProcess("vault_proc.py") as server:
        server.command(f"seed {PREFIX} {max(SIZES)} {FIELDS}")
        yield server


def count_files(root: Path) -> int:
    return sum(1 for p in sync.snapshot(root) if not Path(p).name.startswith("."))


def test_full_sync_scaling(vault: procs.ServerProcess, tmpfs_dir: Path) -> None:
    url, token = vault.info["url"], vault.info["token"]
    rows = []
    for size, rounds in SIZES.items():
        paths = sync.vault_paths(PREFIX, size)
        plain_out = tmpfs_dir / "plain"
        agent_out = tmpfs_dir / "agent"
        start = time.perf_counter()
        config = sync.parse(sync.vault_config_data(url, token, paths, agent_out))
        parse_s = time.perf_counter() - start

        def run_plain(paths: list[str] = paths, out: Path = plain_out) -> float:
            seconds = sync.timed(sync.plain_vault_loop, url, token, paths, str(out))
            assert count_files(out) == len(paths) * FIELDS
            shutil.rmtree(out)
            return seconds

        def run_agent(config: Any = config, out: Path = agent_out, n: int = size) -> float:
            start = time.perf_counter()
            agent, result = sync.agent_sync(config)
            seconds = time.perf_counter() - start
            sync.close_agent(agent)
            assert result.ok, f"{len(result.failed)} secrets failed"
            assert count_files(out) == n * FIELDS
            shutil.rmtree(out)
            return seconds

        def run_lean(paths: list[str] = paths, out: Path = plain_out) -> float:
            seconds = sync.timed(sync.lean_vault_loop, url, token, paths, str(out))
            assert count_files(out) == len(paths) * FIELDS
            shutil.rmtree(out)
            return seconds

        sides: dict[str, Callable[[], float]] = {
            "agent": run_agent,
            "plain": run_plain,
            "lean": run_lean,
        }
        samples = harness.interleave_calls(sides, rounds=rounds, baseline="agent")
        agent_s = statistics.median(samples["agent"])
        plain_s = statistics.median(samples["plain"])
        lean_s = statistics.median(samples["lean"])
        speedup = statistics.median(samples["plain/ratio"])
        rows.append((size, rounds, parse_s, agent_s, plain_s, speedup, lean_s))
        if size >= 1_000:
            report.add_summary(
                SummaryRow(
                    f"agent full sync, {size:,} Vault secrets (dev server, own process)",
                    f"{agent_s:.2f} s ({size / agent_s:,.0f} secrets/s)",
                    f"plain hvac loop {plain_s:.2f} s ({size / plain_s:,.0f}/s)",
                    f"{fmt_ratio(speedup)} faster",
                    ">= 3x faster",
                    verdict(speedup >= 3.0),
                )
            )
    report.add_table(
        "Full sync from the Vault dev server into tmpfs (2 fields per secret)",
        (
            "secrets",
            "rounds",
            "config parse s",
            "agent s",
            "agent secrets/s",
            "plain loop s",
            "plain secrets/s",
            "speed-up",
            "http.client loop s",
        ),
        [
            (
                f"{n:,}",
                str(r),
                f"{p:.3f}",
                f"{a:.3f}",
                f"{n / a:,.0f}",
                f"{b:.3f}",
                f"{n / b:,.0f}",
                fmt_ratio(s),
                f"{lean:.3f}",
            )
            for n, r, p, a, b, s, lean in rows
        ],
        note="Agent time = Agent(config) + sync_once() (config parsing shown apart); plain = "
        "hvac.Client + one read_secret_version per secret + open().write() per field; "
        "http.client loop = the same reads on one keep-alive connection with json.loads "
        "(a reference floor for one Python thread, not a target). Each round starts from an "
        "empty output directory; speed-up = plain / agent, same-round median.",
    )


def test_steady_state_refresh(vault: procs.ServerProcess, tmpfs_dir: Path) -> None:
    url, token = vault.info["url"], vault.info["token"]
    rows = []
    for size in STEADY_SIZES:
        out = tmpfs_dir / f"steady-{size}"
        config = sync.parse(sync.vault_config_data(url, token, sync.vault_paths(PREFIX, size), out))
        agent, first = sync.agent_sync(config)
        try:
            assert first.ok
            cpu_ms, wall_ms, changed, written, requests = [], [], [], [], []
            dot_changed: set[str] = set()
            for _ in range(3):
                before = sync.snapshot(out)
                vault.command("reset")
                cpu0, wall0 = time.process_time_ns(), time.perf_counter_ns()
                result = agent.sync_once()
                cpu_ms.append((time.process_time_ns() - cpu0) / 1e6)
                wall_ms.append((time.perf_counter_ns() - wall0) / 1e6)
                requests.append(int(vault.command("count")))
                secret_files, dot_files = sync.changed_files(before, sync.snapshot(out))
                changed.append(secret_files)
                dot_changed.update(dot_files)
                written.append(result.written)
        finally:
            sync.close_agent(agent)
            shutil.rmtree(out, ignore_errors=True)
        cpu_per_k = statistics.median(cpu_ms) / (size / 1000)
        dots = ", ".join(sorted(dot_changed)) or "none"
        rows.append(
            (
                f"{size:,}",
                str(max(changed)),
                dots,
                str(max(written)),
                f"{cpu_per_k:.0f}",
                f"{statistics.median(wall_ms):.0f}",
                f"{statistics.median(requests):.0f}",
            )
        )
        report.add_summary(
            SummaryRow(
                f"refresh cycle, nothing changed, {size:,} secrets",
                f"{max(changed)} secret files written ({dots} rewritten); "
                f"{cpu_per_k:.0f} CPU ms per 1,000 secrets",
                "-",
                "-",
                "zero file writes",
                verdict(max(changed) == 0),
            )
        )
    report.add_table(
        "Refresh cycle with nothing changed (agent.sync_once() after a full sync)",
        (
            "secrets",
            "secret files changed",
            "agent dot files changed",
            "report.written",
            "CPU ms / 1,000",
            "wall ms",
            "HTTP requests",
        ),
        rows,
        note="Changed = inode or mtime differs; CPU = process CPU time of the agent's process "
        "(the server runs elsewhere); median of 3 cycles (maximum for the file counts).",
    )


def test_agent_rss(vault: procs.ServerProcess, tmpfs_dir: Path) -> None:
    url, token = vault.info["url"], vault.info["token"]
    size = max(SIZES)
    modules_file = tmpfs_dir / "modules.json"
    agent_rss, bare_rss = [], []
    for rnd in range(3):
        out = tmpfs_dir / f"rss-{rnd}"
        got = procs.run_json("agent_rss.py", "agent", url, token, PREFIX, str(size), str(out))
        shutil.rmtree(out, ignore_errors=True)
        agent_rss.append(got["rss_mib"])
        modules_file.write_text(json.dumps(got["modules"]))
        bare_rss.append(procs.run_json("agent_rss.py", "bare", str(modules_file))["rss_mib"])
    above = statistics.median(a - b for a, b in zip(agent_rss, bare_rss, strict=True))
    report.add_table(
        "Agent resident memory with 10,000 secrets (fresh processes, median of 3)",
        ("process", "VmRSS MiB"),
        [
            ("agent after full sync, scheduler started", f"{statistics.median(agent_rss):.1f}"),
            ("bare interpreter, same modules imported", f"{statistics.median(bare_rss):.1f}"),
            ("difference", f"{above:.1f}"),
        ],
    )
    report.add_summary(
        SummaryRow(
            "agent RSS with 10,000 secrets, above bare interpreter with the same imports",
            f"+{above:.1f} MiB ({statistics.median(agent_rss):.1f} MiB total)",
            f"bare {statistics.median(bare_rss):.1f} MiB",
            "-",
            "<= 40 MiB above",
            verdict(above <= 40.0),
        )
    )
