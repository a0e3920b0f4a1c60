"""Benchmark-suite plumbing: make ``benchkit`` importable and print the summary at the end.

Benchmarks are marked ``bench`` and deselected by the default test run; run them with
``.venv/bin/python -m pytest tests/bench -m bench -s`` or ``.venv/bin/python tests/bench/run.py``.
Set ``BENCH_MARKDOWN=FILE`` to also write the results as Markdown.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

BENCH_DIR = str(Path(__file__).resolve().parent)
if BENCH_DIR not in sys.path:
    sys.path.insert(0, BENCH_DIR)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print the collected summary table; write Markdown when BENCH_MARKDOWN is set."""
    from benchkit import report

    if not report.SUMMARY and not report.DETAILS:
        return
    terminalreporter.write_sep("=", "benchmark summary")
    terminalreporter.write_line(report.render_text(report.summary_table()))
    target = os.environ.get("BENCH_MARKDOWN")
    if target:
        Path(target).write_text(report.render_all_markdown())
        terminalreporter.write_line(f"Markdown results written to {target}")
