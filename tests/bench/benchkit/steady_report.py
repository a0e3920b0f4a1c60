"""Tables and summary rows of the steady-state benchmarks (see ``test_bench_steady.py``)."""

from __future__ import annotations

import os
import statistics
from collections.abc import Sequence

from benchkit import report
from benchkit.outage import OutageResult
from benchkit.steady import OneShotResult, SteadyResult


def env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def env_float(name: str, default: float) -> float:
    return float(os.environ.get(name, default))


def env_sizes(name: str, default: str) -> list[int]:
    return [int(x) for x in os.environ.get(name, default).replace("_", "").split(",") if x]


def n(count: int) -> str:
    return f"{count:,}"


def opt(value: float | None, fmt: str = "{:.2f}") -> str:
    return "-" if value is None else fmt.format(value)


def ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0:
        return None
    return a / b


def median_of(results: Sequence[OneShotResult], attr: str) -> float:
    return float(statistics.median(getattr(r, attr) for r in results))


def one_shot_row(side: str, results: Sequence[OneShotResult]) -> tuple[str, ...]:
    first = results[0]
    return (
        n(first.count),
        side,
        f"{median_of(results, 'wall_s'):.2f}",
        f"{median_of(results, 'cpu_s'):.2f}",
        f"{median_of(results, 'max_rss_mib'):.1f}",
        f"{median_of(results, 'requests') / first.count:.2f}",
        f"{min(r.files for r in results)}/{first.count}",
        ",".join(sorted({str(r.exit_code) for r in results})),
    )


ONE_SHOT_HEADER = (
    "secrets",
    "agent",
    "wall s",
    "CPU s",
    "peak RSS MiB",
    "requests/secret",
    "files",
    "exit",
)


def steady_row(side: str, r: SteadyResult) -> tuple[str, ...]:
    return (
        n(r.count),
        f"{r.interval_s:g} s",
        side,
        opt(r.first_sync_s),
        f"{r.window_s:.0f}",
        f"{r.due:,.0f}",
        f"{r.reads:,}",
        f"{r.confirmed:,}",
        f"{r.keep_up:.3f}",
        f"{r.requests / r.refreshes:.2f}" if r.refreshes else "-",
        opt(r.cpu_per_refresh_ms),
        f"{r.core_pct:.1f}",
        f"{r.rss_median_mib:.1f}",
        f"{r.peak_mib:.1f}",
    )


STEADY_HEADER = (
    "secrets",
    "interval",
    "agent",
    "first sync s",
    "window s",
    "refreshes due",
    "reads",
    "confirmed",
    "keep-up",
    "requests/refresh",
    "CPU ms/refresh",
    "% of a core",
    "RSS MiB (median)",
    "RSS peak MiB",
)


def outage_row(side: str, r: OutageResult) -> tuple[str, ...]:
    return (
        side,
        n(r.count),
        f"{r.interval_s:g} s",
        f"{r.sealed_s:.0f}",
        opt(r.first_request_s),
        opt(r.p50),
        opt(r.last) if r.last is not None else f"> {r.timeout_s:g} ({r.missing} not fresh)",
        n(r.confirmed),
    )


OUTAGE_HEADER = (
    "agent",
    "secrets",
    "interval",
    "sealed s",
    "first request s",
    "fresh p50 s",
    "all fresh s",
    "confirmed, not read",
)


def summary(
    what: str,
    value: str,
    baseline: str,
    rat: float | None,
    target: str,
    ok: bool | None,
) -> None:
    report.add_summary(
        report.SummaryRow(what, value, baseline, report.fmt_ratio(rat), target, report.verdict(ok))
    )
