"""Import cost of the reader library against ``logging``, in fresh interpreters.

Each round starts one fresh ``python -X importtime`` per target (order rotating); the figure is
the cumulative import time of what the ``import`` statement loaded, as ``-X importtime`` reports
it. Bytecode is warm for both sides: one import per target first writes it under a private
``PYTHONPYCACHEPREFIX``, which the timed processes then read (as after a pip install).
"""

from __future__ import annotations

import statistics
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from benchkit import harness, procs, report
from benchkit.report import SummaryRow, fmt_ratio, verdict

pytestmark = pytest.mark.bench

ROUNDS = 15
SEED = "from libs.secrets import create_secret_manager"
# What a service reading the agent's files loads before its first read: the judged figure.
FILE = "from libs.secrets import FileSecretManager"
TARGETS = {
    "import logging": "import logging",
    FILE: FILE,
    SEED: SEED,
    "import libs.secrets (package only)": "import libs.secrets",
    "import json": "import json",
}


def heavy_modules_loaded(statement: str) -> list[str]:
    """Which of the lazily imported dependencies an import ``statement`` pulls in."""
    heavy = ("hvac", "boto3", "botocore", "apscheduler", "watchdog", "requests")
    code = f"import sys; {statement}; print(' '.join(m for m in {heavy!r} if m in sys.modules))"
    env = procs.child_env()
    out = subprocess.run(
        [procs.PYTHON, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    return out.stdout.split()


def test_import_time(tmp_path: Path) -> None:
    try:
        import libs.secrets  # noqa: F401
    except ImportError as exc:
        pytest.skip(f"libs.secrets not importable: {exc}")
    walls: dict[str, list[float]] = {name: [] for name in TARGETS}
    prefix = str(tmp_path / "pycache")
    for statement in TARGETS.values():
        procs.warm_bytecode(statement, prefix)

    def side(name: str) -> Callable[[], float]:
        def measure() -> float:
            cumulative_us, wall_ms = procs.importtime(TARGETS[name], pycache_prefix=prefix)
            walls[name].append(wall_ms)
            return cumulative_us

        return measure

    samples = harness.interleave_calls(
        {name: side(name) for name in TARGETS}, rounds=ROUNDS, baseline="import logging"
    )
    rows = []
    for name in TARGETS:
        rows.append(
            (
                name,
                f"{statistics.median(samples[name]) / 1e3:.2f}",
                fmt_ratio(statistics.median(samples[f"{name}/ratio"])),
                f"{statistics.median(walls[name]):.1f}",
            )
        )
    report.add_table(
        "Import time (fresh processes, interleaved)",
        ("statement", "-X importtime cumulative ms", "ratio vs logging", "process wall ms"),
        rows,
        note=f"{ROUNDS} rounds. Heavy dependencies loaded by `{FILE}`: "
        f"{', '.join(heavy_modules_loaded(FILE)) or 'none'}. The package imports its modules "
        "on first use of a name, so `import libs.secrets` alone loads almost nothing and the "
        "factory loads its backend when called; the FileSecretManager import is what a "
        "service reading the agent's files loads before its first read.",
    )
    ratio = statistics.median(samples[f"{FILE}/ratio"])
    report.add_summary(
        SummaryRow(
            f"import time of libs.secrets (`{FILE}`, cumulative)",
            f"{statistics.median(samples[FILE]) / 1e3:.2f} ms",
            f"import logging {statistics.median(samples['import logging']) / 1e3:.2f} ms",
            fmt_ratio(ratio),
            "<= 3x",
            verdict(ratio <= 3.0),
        )
    )
