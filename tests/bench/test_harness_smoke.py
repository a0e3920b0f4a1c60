"""Fast checks that the benchmark harness still works (part of the default test run).

No timing assertions: only the shape of what the harness returns and prints.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from benchkit import harness, procs, report


def test_compare_runs_interleaved_rounds_and_ratios() -> None:
    calls: list[str] = []

    def make(tag: str) -> harness.Factory:
        def factory(n: int) -> harness.Runner:
            def run() -> None:
                calls.append(tag)
                for _ in range(n):
                    abs(-1)

            return run

        return factory

    comp = harness.compare(
        {"base": make("base"), "other": make("other")},
        baseline="base",
        rounds=3,
        round_s=0.0005,
    )
    assert list(comp.cases) == ["base", "other"]
    for case in comp.cases.values():
        assert case.n >= 1
        assert len(case.raw_ns) == len(case.net_ns) == len(case.ratios) == 3
        assert all(v >= 0 for v in case.net_ns)
    assert comp["base"].ratio == 1.0
    assert comp.ratio("other", "base") == pytest.approx(comp["other"].ratio)
    assert "other" in calls and "base" in calls


def test_compare_rejects_unknown_baseline() -> None:
    with pytest.raises(ValueError, match="baseline"):
        harness.compare({"a": harness.loop(abs, -1)}, baseline="b", rounds=1, round_s=0.0001)


def test_loop_factory_calls_with_arguments() -> None:
    seen: list[tuple[object, ...]] = []
    harness.loop(lambda *a: seen.append(a))(2)()
    harness.loop(lambda *a: seen.append(a), 1)(1)()
    harness.loop(lambda *a: seen.append(a), 1, 2)(1)()
    assert seen == [(), (), (1,), (1, 2)]


def test_interleave_calls_rotates_order_and_computes_ratios() -> None:
    order: list[str] = []

    def side(name: str, value: float) -> Callable[[], float]:
        def call() -> float:
            order.append(name)
            return value

        return call

    out = harness.interleave_calls(
        {"a": side("a", 2.0), "b": side("b", 4.0)}, rounds=2, baseline="a"
    )
    assert order == ["a", "b", "b", "a"]
    assert out["b/ratio"] == [2.0, 2.0]
    assert out["a/ratio"] == [1.0, 1.0]


def test_percentile_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert harness.percentile(values, 50) == 50.0
    assert harness.percentile(values, 99) == 99.0
    assert harness.percentile(values, 100) == 100.0
    assert harness.percentile([7.0], 99) == 7.0


def test_parse_importtime_counts_top_level_entries_after_marker() -> None:
    text = "\n".join(
        [
            "import time: self [us] | cumulative | imported package",
            "import time:       100 |        900 | site",
            procs.MARK,
            "import time:        50 |         50 |   threading",
            "import time:       300 |        350 | logging",
            "import time:        20 |         20 | json",
        ]
    )
    assert procs.parse_importtime(text) == 370.0
    with pytest.raises(ValueError, match="marker"):
        procs.parse_importtime("nothing here")


def test_report_formats_and_renders(capsys: pytest.CaptureFixture[str]) -> None:
    assert report.fmt_ns(96.2) == "96.2 ns"
    assert report.fmt_ns(2970) == "2.97 µs"
    assert report.fmt_ns(1.5e6) == "1.5 ms"
    assert report.fmt_ratio(None) == "-"
    assert report.fmt_ratio(360.4) == "360x"
    assert report.verdict(True) == "PASS" and report.verdict(False) == "MISS"
    table = report.Table("t", ("what", "ns"), (("x", "1"), ("longer", "22")), note="n")
    text = report.render_text(table)
    assert text.splitlines()[0] == "== t =="
    md = report.render_markdown(table)
    assert "| x | 1 |" in md and "|---|---:|" in md
    capsys.readouterr()
