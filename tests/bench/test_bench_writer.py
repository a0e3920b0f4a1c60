"""Atomic write of one secret: the agent's SecretWriter against a raw temp+write+rename.

Both sides rotate the same-sized value (alternating two contents, so the writer never takes its
"unchanged" shortcut) on tmpfs, interleaved round by round.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from benchkit import harness, report
from benchkit.report import SummaryRow, fmt_ns, fmt_ratio, verdict

pytestmark = pytest.mark.bench

FLAGS = os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC
CONTENTS = (b"a" * 40, b"b" * 40)


def raw_atomic_write(directory: str, name: str, content: bytes) -> None:
    """The floor: O_EXCL temp file in the same directory, write, close, os.replace."""
    tmp = os.path.join(directory, ".tmp-raw")
    fd = os.open(tmp, FLAGS, 0o400)
    try:
        os.write(fd, content)
    finally:
        os.close(fd)
    os.replace(tmp, os.path.join(directory, name))


def rotating_raw(directory: str) -> harness.Factory:
    def make(n: int) -> harness.Runner:
        def run() -> None:
            for i in range(n):
                raw_atomic_write(directory, "key", CONTENTS[i & 1])

        return run

    return make


def rotating_writer(writer: Any, relpath: str, *, change: bool = True) -> harness.Factory:
    def make(n: int) -> harness.Runner:
        write = writer.write

        def run() -> None:
            for i in range(n):
                write(relpath, CONTENTS[i & 1 if change else 0], mode=0o400)

        return run

    return make


def test_atomic_write(tmpfs_dir: Path) -> None:
    try:
        from secrets_agent.writer import SecretWriter
    except ImportError as exc:
        pytest.skip(f"secrets_agent.writer not available: {exc}")
    raw_dir = tmpfs_dir / "raw" / "alpaca"
    raw_dir.mkdir(parents=True)
    writer = SecretWriter(tmpfs_dir / "out")
    writer.prepare()
    writer.write("alpaca/key", CONTENTS[1], mode=0o400)
    writer.write("same/key", CONTENTS[0], mode=0o400)
    comp = harness.compare(
        {
            "raw temp+write+rename": rotating_raw(str(raw_dir)),
            "SecretWriter.write (changed)": rotating_writer(writer, "alpaca/key"),
            "SecretWriter.write (unchanged, skipped)": rotating_writer(
                writer, "same/key", change=False
            ),
        },
        baseline="raw temp+write+rename",
        rounds=15,
        disable_gc=False,
    )
    assert (tmpfs_dir / "out" / "alpaca" / "key").read_bytes() in CONTENTS
    report.add_table(
        "Atomic write of one 40-byte secret on tmpfs, per write",
        ("operation", "net", "writes/s", "ratio vs raw"),
        [
            (
                c.name,
                fmt_ns(c.median_ns),
                f"{1e9 / c.median_ns:,.0f}" if c.median_ns else "-",
                fmt_ratio(c.ratio),
            )
            for c in comp.cases.values()
        ],
        note=f"{comp.rounds} interleaved rounds; the file exists (rotation), mode 0400.",
    )
    changed = comp["SecretWriter.write (changed)"]
    raw = comp["raw temp+write+rename"]
    assert changed.ratio is not None
    report.add_summary(
        SummaryRow(
            "atomic write of one secret (SecretWriter.write)",
            fmt_ns(changed.median_ns),
            f"raw temp+write+rename {fmt_ns(raw.median_ns)}",
            fmt_ratio(changed.ratio),
            "<= 2x",
            verdict(changed.ratio <= 2.0),
        )
    )


def rotating_set(writer: Any, target: str, *, change: bool = True) -> harness.Factory:
    sets = [
        {f"{target}/{f}": content for f in ("username", "password", "host")} for content in CONTENTS
    ]

    def make(n: int) -> harness.Runner:
        write_files = writer.write_files

        def run() -> None:
            for i in range(n):
                write_files(sets[i & 1 if change else 0], mode=0o400)

        return run

    return make


def test_field_set_write(tmpfs_dir: Path) -> None:
    """A three-field secret rotated: switched as a whole set, against file by file."""
    try:
        from secrets_agent.writer import SecretWriter
    except ImportError as exc:
        pytest.skip(f"secrets_agent.writer not available: {exc}")
    writer = SecretWriter(tmpfs_dir / "out")
    writer.prepare()
    by_file = SecretWriter(tmpfs_dir / "out2")
    by_file.prepare()
    by_file._swap_set = lambda *args, **kwargs: None  # type: ignore[method-assign]
    comp = harness.compare(
        {
            "file by file (3 renames)": rotating_set(by_file, "db"),
            "whole set (directory switched)": rotating_set(writer, "db"),
            "whole set, unchanged (skipped)": rotating_set(writer, "same", change=False),
        },
        baseline="file by file (3 renames)",
        rounds=15,
        disable_gc=False,
    )
    assert (tmpfs_dir / "out" / "db" / "host").read_bytes() in CONTENTS
    report.add_table(
        "Rotation of one 3-field secret (format = fields) on tmpfs, per rotation",
        ("operation", "net", "rotations/s", "ratio vs file by file"),
        [
            (
                c.name,
                fmt_ns(c.median_ns),
                f"{1e9 / c.median_ns:,.0f}" if c.median_ns else "-",
                fmt_ratio(c.ratio),
            )
            for c in comp.cases.values()
        ],
        note=f"{comp.rounds} interleaved rounds; 40-byte fields, mode 0400.",
    )
    whole = comp["whole set (directory switched)"]
    assert whole.ratio is not None
    report.add_summary(
        SummaryRow(
            "rotation of a 3-field secret as a whole set",
            fmt_ns(whole.median_ns),
            f"file by file {fmt_ns(comp['file by file (3 renames)'].median_ns)}",
            fmt_ratio(whole.ratio),
            "<= 3x",
            verdict(whole.ratio <= 3.0),
        )
    )
