"""What the bench scripts share: run benchmark files under pytest with their Markdown tables
collected, and put a block of results between two markers of BENCHMARKS.md."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


def splice(document: str, start: str, end: str, block: str) -> str:
    """Replace what is between ``start`` and ``end`` in ``document`` with ``block`` (append the
    markers and the block when they are missing)."""
    head, found, rest = document.partition(start)
    if not found or end not in rest:
        return f"{document.rstrip()}\n\n{start}\n{block.rstrip()}\n{end}\n"
    _, _, tail = rest.partition(end)
    return f"{head}{start}\n{block.rstrip()}\n{end}{tail}"


def run_bench(files: Sequence[str], extra: Sequence[str]) -> tuple[int, str | None]:
    """Run ``files`` (marker ``bench``) from the repository root; return pytest's exit code
    and the Markdown the benchmarks wrote (None if they wrote none)."""
    import pytest

    with tempfile.TemporaryDirectory() as tmp:
        results = Path(tmp) / "results.md"
        os.environ["BENCH_MARKDOWN"] = str(results)
        os.chdir(REPO)
        code = pytest.main([*files, "-m", "bench", "-s", "-p", "no:cacheprovider", *extra])
        return int(code), results.read_text() if results.exists() else None
