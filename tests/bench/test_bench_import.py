"""Import cost of the reader library against ``logging``, in fresh interpreters.

Each round starts one fresh ``python -X importtime`` per target (order rotating); the figure is
the cumulative import time of what the ``import`` statement loaded, as ``-X importtime`` reports
it. ``.pyc`` files are warm (``PYTHONDONTWRITEBYTECODE=1``, pip precompiled them).
"""

from __future__ import annotations

import statistics
import subprocess
from collections.abc import Callable

import pytest
from benchkit import harness, procs, report
from benchkit.report import SummaryRow, fmt_ratio, verdict

pytestmark = pytest.mark.bench

ROUNDS = 15
TARGETS = {
    "logging": "logging",
    "libs.secrets": "libs.secrets",
    "json": "json",
}


def heavy_modules_loaded(module: str) -> list[str]:
    """Which of the lazily imported dependencies a bare ``import module`` pulls in."""
    heavy = ("hvac", "boto3", "botocore", "apscheduler", "watchdog", "requests")
    code = f"import sys, {module}; print(' '.join(m for m in {heavy!r} if m in sys.modules))"
    env = procs.child_env()
    out = subprocess.run(
        [procs.PYTHON, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    return out.stdout.split()


def test_import_time() -> None:
    try:
        import libs.secrets  # noqa: F401
    except ImportError as exc:
        pytest.skip(f"libs.secrets not importable: {exc}")
    walls: dict[str, list[float]] = {name: [] for name in TARGETS}

    def side(name: str) -> Callable[[], float]:
        def measure() -> float:
            cumulative_us, wall_ms = procs.importtime(TARGETS[name])
            walls[name].append(wall_ms)
            return cumulative_us

        return measure

    samples = harness.interleave_calls(
        {name: side(name) for name in TARGETS}, rounds=ROUNDS, baseline="logging"
    )
    rows = []
    for name in TARGETS:
        rows.append(
            (
                f"import {name}",
                f"{statistics.median(samples[name]) / 1e3:.2f}",
                fmt_ratio(statistics.median(samples[f"{name}/ratio"])),
                f"{statistics.median(walls[name]):.1f}",
            )
        )
    report.add_table(
        "Import time (fresh processes, interleaved)",
        ("import", "-X importtime cumulative ms", "ratio vs logging", "process wall ms"),
        rows,
        note=f"{ROUNDS} rounds. Heavy dependencies loaded by `import libs.secrets`: "
        f"{', '.join(heavy_modules_loaded('libs.secrets')) or 'none'}.",
    )
    ratio = statistics.median(samples["libs.secrets/ratio"])
    report.add_summary(
        SummaryRow(
            "import libs.secrets (cumulative, -X importtime)",
            f"{statistics.median(samples['libs.secrets']) / 1e3:.2f} ms",
            f"import logging {statistics.median(samples['logging']) / 1e3:.2f} ms",
            fmt_ratio(ratio),
            "<= 3x",
            verdict(ratio <= 3.0),
        )
    )
