"""Run the benchmark suite; optionally refresh the results block of BENCHMARKS.md.

    .venv/bin/python tests/bench/run.py              # run, print tables and the summary
    .venv/bin/python tests/bench/run.py --write      # ... and update BENCHMARKS.md
    .venv/bin/python tests/bench/run.py -- -k reader # extra arguments go to pytest

The results go between the ``<!-- results:start -->`` and ``<!-- results:end -->`` markers of
BENCHMARKS.md; the text around them is kept.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
START = "<!-- results:start -->"
END = "<!-- results:end -->"
# The order of the table: reader, rotation, import, syncs, memory, writer.
ORDER = ("reader", "rotation", "import", "vault_sync", "aws_sync", "writer")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="update BENCHMARKS.md")
    parser.add_argument("pytest_args", nargs="*", help="extra pytest arguments (after --)")
    args = parser.parse_args(argv)

    sys.path.insert(0, str(HERE))
    from benchkit import machine
    from benchkit.markdown import run_bench, splice

    files = [str(HERE / f"test_bench_{name}.py") for name in ORDER]
    code, results = run_bench(files, args.pytest_args)
    if args.write and results is not None:
        block = f"{machine.describe()}\n\n{results}"
        target = REPO / "BENCHMARKS.md"
        old = target.read_text() if target.exists() else "# Benchmarks\n"
        target.write_text(splice(old, START, END, block))
        print(f"updated {target}")
    return code


if __name__ == "__main__":
    sys.exit(main())
