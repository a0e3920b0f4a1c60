"""The outage gate: one probe with backoff while down, catch-up planning after."""

from __future__ import annotations

import random

from secrets_agent.daemon import outage as pacing


def test_gate_closes_backs_off_and_honours_retry_after() -> None:
    gate = pacing.OutageGate(cap=300.0)
    rng = random.Random(1)
    assert gate.is_open
    first = pacing.backend_down(gate, 100.0, error="sealed", rng=rng, target="a")
    assert not gate.is_open and gate.probe_target == "a" and 101.0 <= first <= 102.0
    ceilings = []
    for n in range(2, 12):
        at = pacing.backend_down(gate, 100.0, error="sealed", rng=rng, target="a", probe=True)
        ceilings.append(at - 100.0)
        assert 1.0 <= at - 100.0 <= min(300.0, 2.0**n)
    assert max(ceilings) > 100.0  # grows towards the interval
    at = pacing.backend_down(gate, 200.0, error="429", rng=rng, target="a", retry_after=30)
    assert at >= 230.0  # an in-flight failure only raises the probe time to its Retry-After
    pacing.hold(gate, "b", 150.0)
    pacing.hold(gate, "b", 160.0)  # the first due time is kept
    recovery = pacing.backend_answered(gate, 400.0)
    assert recovery is not None and gate.is_open
    assert recovery.outage == 300.0 and recovery.held == {"b": 150.0}
    assert pacing.backend_answered(gate, 401.0) is None


def test_catch_up_window() -> None:
    assert pacing.catch_up_window(1.0, 300.0) == pacing.MIN_CATCH_UP_WINDOW
    assert pacing.catch_up_window(60.0, 300.0) == 120.0
    assert pacing.catch_up_window(600.0, 300.0) == 300.0
    assert pacing.catch_up_window(60.0, 1.5) == 1.5


def test_catch_up_plan() -> None:
    rng = random.Random(2)
    held = {f"s{i}": 1000.0 + i for i in range(200)}
    held["new"] = 1050.0
    recovery = pacing.Recovery(outage=120.0, last_failure_at=1110.0, held=held)
    has_file = {t: t != "new" for t in held}
    plan = pacing.catch_up(recovery, has_file, {t: 300.0 for t in held}, now=1120.0, rng=rng)
    assert plan["new"] == pacing.CatchUp(fetch_at=1120.0, resume_at=None)
    times = [p.fetch_at - 1120.0 for t, p in plan.items() if t != "new"]
    assert min(times) >= 0.0 and max(times) <= 240.0 and max(times) > 200.0
    for target, step in plan.items():
        if target == "new":
            continue
        assert step.resume_at is not None
        assert step.resume_at >= step.fetch_at + 30.0  # a tenth of an interval on
        assert (step.resume_at - held[target]) % 300.0 == 0.0  # its pre-outage slot
    long = pacing.Recovery(outage=900.0, last_failure_at=1110.0, held={"a": 100.0})
    step = pacing.catch_up(long, {"a": True}, {"a": 300.0}, now=1120.0, rng=rng)["a"]
    assert step.resume_at is None and 1120.0 <= step.fetch_at <= 1420.0
