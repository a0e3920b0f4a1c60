"""Run the benchmark suite; optionally refresh the results block of BENCHMARKS.md.

    .venv/bin/python tests/bench/run.py              # run, print tables and the summary
    .venv/bin/python tests/bench/run.py --write      # ... and update BENCHMARKS.md
    .venv/bin/python tests/bench/run.py -- -k reader # extra arguments go to pytest

The results go between the ``<!-- results:start -->`` and ``<!-- results:end -->`` markers of
BENCHMARKS.md; the text around them is kept.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
START = "<!-- results:start -->"
END = "<!-- results:end -->"
# The order of the table: reader, rotation, import, syncs, memory, writer.
ORDER = ("reader", "rotation", "import", "vault_sync", "aws_sync", "writer")


def splice(document: str, block: str) -> str:
    """Replace what is between the markers of ``document`` with ``block``."""
    head, found, rest = document.partition(START)
    if not found or END not in rest:
        return f"{document.rstrip()}\n\n{START}\n{block.rstrip()}\n{END}\n"
    _, _, tail = rest.partition(END)
    return f"{head}{START}\n{block.rstrip()}\n{END}{tail}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="update BENCHMARKS.md")
    parser.add_argument("pytest_args", nargs="*", help="extra pytest arguments (after --)")
    args = parser.parse_args(argv)

    import pytest

    sys.path.insert(0, str(HERE))
    from benchkit import machine

    with tempfile.TemporaryDirectory() as tmp:
        results = Path(tmp) / "results.md"
        os.environ["BENCH_MARKDOWN"] = str(results)
        os.chdir(REPO)
        files = [str(HERE / f"test_bench_{name}.py") for name in ORDER]
        extra = args.pytest_args
        code = pytest.main([*files, "-m", "bench", "-s", "-p", "no:cacheprovider", *extra])
        if args.write and results.exists():
            block = f"{machine.describe()}\n\n{results.read_text()}"
            target = REPO / "BENCHMARKS.md"
            old = target.read_text() if target.exists() else "# Benchmarks\n"
            target.write_text(splice(old, block))
            print(f"updated {target}")
    return int(code)


if __name__ == "__main__":
    sys.exit(main())
