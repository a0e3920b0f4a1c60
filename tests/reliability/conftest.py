"""Reliability suite: prints what every scenario tried and lost (``reliability_kit.record``)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from reliability_kit import RESULTS


def pytest_terminal_summary(terminalreporter: Any) -> None:
    results = RESULTS
    if not results:
        return
    terminalreporter.section("reliability: tried / lost")
    for r in results:
        extra = {k: v for k, v in r.items() if k not in ("scenario", "tried", "lost", "unit")}
        details = "  " + " ".join(f"{k}={v}" for k, v in extra.items()) if extra else ""
        terminalreporter.write_line(
            f"{r['scenario']:<58} tried {r['tried']:>7} {r['unit']:<10} lost {r['lost']}{details}"
        )
    target = os.environ.get("RELIABILITY_SUMMARY")
    if target:
        Path(target).write_text(json.dumps(results, indent=1, default=str) + "\n")


@pytest.fixture
def out_dir(tmpfs_dir: Path) -> Path:
    """``<tmpfs>/out`` (not created: the writer creates it)."""
    return tmpfs_dir / "out"


needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
