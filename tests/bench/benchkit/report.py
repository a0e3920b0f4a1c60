"""Result registry and table printing for the benchmark suite.

Benchmarks add *summary rows* (one per target of the issue) and *detail tables*; both are
printed as they are produced and collected so that the pytest session (or ``run.py``) can print
the summary at the end and write it as Markdown.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

PASS = "PASS"
MISS = "MISS"
INFO = "-"


@dataclass(frozen=True)
class SummaryRow:
    """One line of the results table: what was measured against what, and the verdict."""

    what: str
    value: str
    baseline: str
    ratio: str
    target: str
    verdict: str


@dataclass(frozen=True)
class Table:
    """A titled detail table (header + rows of strings) with an optional note."""

    title: str
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    note: str = ""


SUMMARY: list[SummaryRow] = []
DETAILS: list[Table] = []


def fmt_ns(ns: float) -> str:
    """Human time from nanoseconds: ``96 ns``, ``2.97 µs``, ``1.23 ms``, ``4.56 s``."""
    if ns < 1_000:
        return f"{ns:.0f} ns" if ns >= 100 else f"{ns:.1f} ns"
    if ns < 1_000_000:
        return f"{ns / 1e3:.3g} µs" if ns < 100_000 else f"{ns / 1e3:.0f} µs"
    if ns < 1_000_000_000:
        return f"{ns / 1e6:.3g} ms" if ns < 100_000_000 else f"{ns / 1e6:.0f} ms"
    return f"{ns / 1e9:.3g} s"


def fmt_ratio(ratio: float | None) -> str:
    """``0.62x``, ``12.3x``, ``360x``; ``-`` when there is none."""
    if ratio is None:
        return INFO
    if ratio >= 100:
        return f"{ratio:.0f}x"
    return f"{ratio:.3g}x"


def verdict(ok: bool | None) -> str:
    """PASS / MISS, or ``-`` for figures without a target."""
    if ok is None:
        return INFO
    return PASS if ok else MISS


def add_summary(row: SummaryRow) -> SummaryRow:
    """Record a summary row and print it at once."""
    SUMMARY.append(row)
    print(
        f"  [{row.verdict}] {row.what}: {row.value} | baseline {row.baseline} | "
        f"{row.ratio} | target {row.target}"
    )
    return row


def add_table(
    title: str, header: Sequence[str], rows: Sequence[Sequence[str]], note: str = ""
) -> Table:
    """Record a detail table and print it at once."""
    table = Table(title, tuple(header), tuple(tuple(r) for r in rows), note)
    DETAILS.append(table)
    print()
    print(render_text(table))
    return table


def render_text(table: Table) -> str:
    """Fixed-width text rendering for the terminal."""
    cols = [table.header, *table.rows]
    widths = [max(len(row[i]) for row in cols) for i in range(len(table.header))]
    lines = [f"== {table.title} =="]
    for idx, row in enumerate(cols):
        cells = [
            cell.ljust(w) if i == 0 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells))
        if idx == 0:
            lines.append("  ".join("-" * w for w in widths))
    if table.note:
        lines.append(table.note)
    return "\n".join(lines)


def render_markdown(table: Table, *, level: int = 3) -> str:
    """GitHub-flavoured Markdown rendering; numeric columns right-aligned."""
    head = "| " + " | ".join(table.header) + " |"
    align = "|" + "|".join(["---"] + ["---:"] * (len(table.header) - 1)) + "|"
    body = ["| " + " | ".join(row) + " |" for row in table.rows]
    parts = [f"{'#' * level} {table.title}", "", head, align, *body]
    if table.note:
        parts += ["", table.note]
    return "\n".join(parts)


def summary_table() -> Table:
    """The summary rows as a table."""
    return Table(
        "Summary",
        ("what", "measured", "baseline (same run)", "ratio", "target", "met"),
        tuple((r.what, r.value, r.baseline, r.ratio, r.target, r.verdict) for r in SUMMARY),
    )


def render_all_markdown() -> str:
    """Summary plus every detail table, in the order they were produced."""
    parts = [render_markdown(summary_table())]
    parts += [render_markdown(t, level=4) for t in DETAILS]
    return "\n\n".join(parts) + "\n"
