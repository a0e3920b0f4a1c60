"""The outage gate: one probe with backoff while down, catch-up planning after."""

from __future__ import annotations

import random

import pytest
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
    first = pacing.HeldSecret(150.0, None, 0)
    pacing.hold(gate, "b", first)
    pacing.hold(gate, "b", pacing.HeldSecret(160.0, "x", 1))  # the first hold is kept
    recovery = pacing.backend_answered(gate, 400.0)
    assert recovery is not None and gate.is_open
    assert recovery.outage == 300.0 and recovery.held == {"b": first}
    assert pacing.backend_answered(gate, 401.0) is None


def test_catch_up_window() -> None:
    assert pacing.catch_up_window(1.0, 300.0) == pacing.MIN_CATCH_UP_WINDOW
    assert pacing.catch_up_window(60.0, 300.0) == 120.0
    assert pacing.catch_up_window(600.0, 300.0) == 270.0  # never overlapping the next round
    assert pacing.catch_up_window(60.0, 1.5) == pytest.approx(1.35)
    assert pacing.catch_up_window(60.0, 300.0, 5.0) == 5.0  # [agent] catch_up_window
    assert pacing.catch_up_window(1.0, 300.0, 0.0) == 0.0
    assert pacing.catch_up_window(1.0, 3.0, 5.0) == pytest.approx(2.7)


def test_probe_ceiling_is_seconds_not_the_refresh_interval() -> None:
    # A big agent at the 5-minute default: the configured ceiling.
    assert pacing.probe_ceiling(5.0, [300.0] * 5000) == 5.0
    assert pacing.probe_ceiling(2.0, [300.0] * 5000) == 2.0
    # Few secrets: raised so the probe never asks more often than the steady refreshes would
    # (three mean gaps between them), never above the shortest interval.
    assert pacing.probe_ceiling(5.0, [300.0] * 30) == pytest.approx(30.0)
    assert pacing.probe_ceiling(5.0, [300.0]) == 300.0
    assert pacing.probe_ceiling(5.0, [1.5] * 3) == 1.5
    mixed = [300.0] * 20 + [3600.0] * 20
    assert pacing.probe_ceiling(5.0, mixed) == pytest.approx(3 / (20 / 300 + 20 / 3600))
    assert pacing.probe_ceiling(5.0, []) == 5.0


def test_resume_at_returns_to_the_pre_outage_slot() -> None:
    assert pacing.resume_at(1000.0, 900.0, 300.0) == 1000.0  # still ahead: kept
    # passed: the next slot of its cycle at least a tenth of an interval after the fetch
    assert pacing.resume_at(1000.0, 1100.0, 300.0) == 1300.0
    assert pacing.resume_at(1000.0, 1290.0, 300.0) == 1600.0
