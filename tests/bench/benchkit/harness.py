"""Interleaved micro-benchmark harness: rounds, medians and same-round ratios.

A *case* is a factory ``make(n) -> runner``; ``runner()`` performs the operation ``n`` times
(the loop lives inside the runner, so the harness adds one call per round, not one per
operation). Every round times each case once, in an order that rotates from round to round, so
that slow drift of a noisy machine hits all cases alike. Per-operation times are the median
over rounds; a ratio is the median over rounds of ``case / baseline`` measured in the *same*
round. An empty loop is timed alongside and subtracted ("net").
"""

from __future__ import annotations

import gc
import math
import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from itertools import repeat

Runner = Callable[[], object]
Factory = Callable[[int], Runner]

EMPTY = "(empty loop)"


def loop(fn: Callable[..., object], *args: object) -> Factory:
    """Case factory calling ``fn(*args)`` ``n`` times in a tight loop (0 to 2 arguments)."""

    def make(n: int) -> Runner:
        if not args:

            def run0() -> None:
                for _ in repeat(None, n):
                    fn()

            return run0
        if len(args) == 1:
            (a,) = args

            def run1() -> None:
                for _ in repeat(None, n):
                    fn(a)

            return run1
        a, b = args[0], args[1]

        def run2() -> None:
            for _ in repeat(None, n):
                fn(a, b)

        return run2

    return make


def _empty(n: int) -> Runner:
    def run() -> None:
        for _ in repeat(None, n):
            pass

    return run


@dataclass
class CaseResult:
    """Per-operation times of one case over all rounds, in nanoseconds."""

    name: str
    n: int
    raw_ns: list[float] = field(default_factory=list)
    net_ns: list[float] = field(default_factory=list)
    ratios: list[float] = field(default_factory=list)

    @property
    def median_ns(self) -> float:
        return statistics.median(self.net_ns)

    @property
    def median_raw_ns(self) -> float:
        return statistics.median(self.raw_ns)

    @property
    def ratio(self) -> float | None:
        return statistics.median(self.ratios) if self.ratios else None


@dataclass
class Comparison:
    """Result of :func:`compare`: cases in insertion order, the baseline's name and settings."""

    cases: dict[str, CaseResult]
    baseline: str | None
    rounds: int
    loop_ns: float

    def __getitem__(self, name: str) -> CaseResult:
        return self.cases[name]

    def ratio(self, case: str, base: str) -> float:
        """Median over rounds of ``case / base`` (net times of the same round)."""
        pairs = zip(self.cases[case].net_ns, self.cases[base].net_ns, strict=True)
        return statistics.median(c / b if b > 0 else float("inf") for c, b in pairs)


def _time_once(runner: Runner) -> int:
    start = time.perf_counter_ns()
    runner()
    return time.perf_counter_ns() - start


def calibrate(make: Factory, round_s: float, *, max_n: int = 10_000_000) -> int:
    """Pick ``n`` so that one run of the case takes about ``round_s`` seconds."""
    n = 1
    while True:
        elapsed = _time_once(make(n)) / 1e9
        if elapsed >= round_s / 4 or n >= max_n:
            break
        n *= 4 if elapsed < round_s / 40 else 2
    if elapsed <= 0:
        return n
    return max(1, min(max_n, int(n * round_s / elapsed)))


def compare(
    cases: Mapping[str, Factory],
    *,
    baseline: str | None = None,
    rounds: int = 21,
    round_s: float = 0.04,
    warmup: int = 1,
    subtract_loop: bool = True,
    disable_gc: bool = True,
) -> Comparison:
    """Time ``cases`` interleaved round by round; see the module docstring."""
    if baseline is not None and baseline not in cases:
        raise ValueError(f"baseline {baseline!r} is not one of the cases")
    all_cases: dict[str, Factory] = dict(cases)
    all_cases[EMPTY] = _empty
    sizes = {name: calibrate(make, round_s) for name, make in all_cases.items()}
    runners = {name: make(sizes[name]) for name, make in all_cases.items()}
    names = list(runners)
    results = {name: CaseResult(name, sizes[name]) for name in cases}
    loop_samples: list[float] = []
    gc_was_enabled = gc.isenabled()
    if disable_gc:
        gc.collect()
        gc.disable()
    try:
        for _ in range(warmup):
            for runner in runners.values():
                runner()
        for r in range(rounds):
            shift = r % len(names)
            order = names[shift:] + names[:shift]
            per_op = {name: _time_once(runners[name]) / sizes[name] for name in order}
            empty = per_op.pop(EMPTY)
            loop_samples.append(empty)
            for name, raw in per_op.items():
                res = results[name]
                res.raw_ns.append(raw)
                res.net_ns.append(max(raw - empty, 0.0) if subtract_loop else raw)
            if baseline is not None:
                base = results[baseline].net_ns[-1]
                for res in results.values():
                    res.ratios.append(res.net_ns[-1] / base if base > 0 else float("inf"))
    finally:
        if disable_gc and gc_was_enabled:
            gc.enable()
    return Comparison(results, baseline, rounds, statistics.median(loop_samples))


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile (``pct`` in 0..100) of a non-empty list."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("percentile of an empty list")
    rank = max(1, min(len(ordered), math.ceil(pct / 100 * len(ordered))))
    return ordered[rank - 1]


def interleave_calls(
    sides: Mapping[str, Callable[[], float]], *, rounds: int, baseline: str | None = None
) -> dict[str, list[float]]:
    """Run each side's measurement once per round (rotating order); return samples per side.

    For costly measurements (fresh processes, full syncs) where each call returns one sample.
    When ``baseline`` is given, the returned dict also holds ``"<name>/ratio"`` samples: the
    side's value divided by the baseline's value of the same round.
    """
    names = list(sides)
    samples: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        shift = r % len(names)
        for name in names[shift:] + names[:shift]:
            samples[name].append(sides[name]())
    if baseline is not None:
        for name in names:
            samples[f"{name}/ratio"] = [
                v / b if b else float("inf")
                for v, b in zip(samples[name], samples[baseline], strict=True)
            ]
    return samples
