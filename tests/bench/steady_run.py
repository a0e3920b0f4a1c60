"""Run the steady-state benchmarks; optionally write their results into BENCHMARKS.md.

    .venv/bin/python tests/bench/steady_run.py                       # run, print the tables
    .venv/bin/python tests/bench/steady_run.py --write after-rebuild # ... and record them
    BENCH_STEADY_WINDOW=300 BENCH_IDLE_WINDOW=1800 .venv/bin/python tests/bench/steady_run.py

With ``--write NAME`` the results replace what is between ``<!-- steady:NAME:start -->`` and
``<!-- steady:NAME:end -->`` in BENCHMARKS.md (appended at the end when the markers are
missing), under a heading naming NAME, the date and the machine; other blocks are kept.
Extra arguments after ``--`` go to pytest (e.g. ``-- -k outage``).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from benchkit.markdown import splice as between

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
LABELS = {
    "before-rebuild": "Before the daemon rebuild",
    "after-rebuild": "After the daemon rebuild",
    "before-rebuild-long": "Before the daemon rebuild, long run",
    "after-rebuild-long": "After the daemon rebuild, long run",
    "after-tuning": "After tuning the steady state (publishing, units, memory)",
    "after-listing": "With refreshes confirmed from directory listings",
    "after-allocator": "With glibc's mmap threshold fixed, 50,000 secrets included",
}


def splice(document: str, name: str, block: str) -> str:
    """Replace the ``name`` block of ``document`` with ``block`` (append it if missing)."""
    return between(document, f"<!-- steady:{name}:start -->", f"<!-- steady:{name}:end -->", block)


def demote_headings(markdown: str) -> str:
    """One more ``#`` on every heading outside fenced code blocks."""
    lines, fenced = [], False
    for line in markdown.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        lines.append(f"#{line}" if line.startswith("#") and not fenced else line)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", metavar="NAME", help="record the results as block NAME")
    parser.add_argument("pytest_args", nargs="*", help="extra pytest arguments (after --)")
    args = parser.parse_args(argv)

    sys.path.insert(0, str(HERE))
    from benchkit import machine
    from benchkit.markdown import run_bench

    code, results = run_bench([str(HERE / "test_bench_steady.py")], args.pytest_args)
    if args.write and results is not None:
        title = LABELS.get(args.write, args.write)
        settings = (
            ", ".join(
                f"{k}={v}"
                for k, v in sorted(os.environ.items())
                if k.startswith("BENCH_") and k != "BENCH_MARKDOWN"
            )
            or "defaults"
        )
        tables = demote_headings(results)
        block = f"### {title}\n\n{machine.describe()} Settings: {settings}.\n\n{tables}\n"
        doc = REPO / "BENCHMARKS.md"
        doc.write_text(splice(doc.read_text(), args.write, block))
        print(f"updated {doc}")
    return code


if __name__ == "__main__":
    sys.exit(main())
