"""policy.next_refresh: every next refresh time, from (state, event, now, rng)."""

from __future__ import annotations

import random

import pytest
from secrets_agent.daemon import outage
from secrets_agent.daemon.policy import CatchUp, Due, Failed, Fetched, Held, next_refresh
from secrets_agent.daemon.state import SecretState

NOW = 1_700_000_000.0


def _state(**kw: object) -> SecretState:
    return SecretState(path="app", target="app", **kw)  # type: ignore[arg-type]


def test_success_is_one_jittered_interval_later() -> None:
    rng = random.Random(1)
    delays = [
        next_refresh(_state(), 60.0, Fetched(False), NOW, rng).next_refresh_at - NOW
        for _ in range(500)
    ]
    assert min(delays) >= 54.0 and max(delays) <= 66.0
    assert min(delays) < 56.0 and max(delays) > 64.0  # the whole +-10 % is used


def test_first_success_is_spread_over_most_of_the_interval() -> None:
    rng = random.Random(4)
    delays = [
        next_refresh(_state(), 60.0, Fetched(True), NOW, rng).next_refresh_at - NOW
        for _ in range(300)
    ]
    assert min(delays) >= 3.0 and max(delays) <= 60.0
    assert min(delays) < 10.0 and max(delays) > 53.0


def test_failures_back_off_exponentially_with_full_jitter_up_to_the_interval() -> None:
    rng = random.Random(3)
    for failures in range(1, 9):
        state = _state(consecutive_failures=failures)
        delays = [
            next_refresh(state, 60.0, Failed(), NOW, rng).next_refresh_at - NOW for _ in range(200)
        ]
        ceiling = min(60.0, 2.0**failures)
        assert min(delays) >= 1.0 and max(delays) <= ceiling
        assert max(delays) > 1.0 + (ceiling - 1.0) * 0.8


def test_retry_after_is_a_floor() -> None:
    state = _state(consecutive_failures=1)
    at = next_refresh(state, 60.0, Failed(retry_after=45.0), NOW, random.Random(4))
    assert at.next_refresh_at >= NOW + 45.0


def test_held_waits_for_the_probe_and_due_is_now_or_after_a_delay() -> None:
    rng = random.Random(5)
    assert next_refresh(_state(), 60.0, Held(NOW + 7), NOW, rng).next_refresh_at == NOW + 7
    assert next_refresh(_state(), 60.0, Due(), NOW, rng).next_refresh_at == NOW
    assert next_refresh(_state(), 60.0, Due(5.0), NOW, rng).next_refresh_at == NOW + 5


def test_catch_up_spreads_over_the_window_then_resumes_the_slot() -> None:
    rng = random.Random(2)
    now = 1120.0
    # Without a good file: at once, no slot.
    at_once = next_refresh(_state(), 300.0, CatchUp(120.0, 1050.0, has_file=False), now, rng)
    assert at_once.next_refresh_at == now and at_once.resume_at is None
    times = []
    for i in range(200):
        due_at = 1000.0 + i
        plan = next_refresh(_state(), 300.0, CatchUp(120.0, due_at, has_file=True), now, rng)
        times.append(plan.next_refresh_at - now)
        assert plan.resume_at is not None
        assert plan.resume_at >= plan.next_refresh_at + 30.0  # a tenth of an interval on
        assert (plan.resume_at - due_at) % 300.0 == 0.0  # its pre-outage slot
        # After the catch-up fetch, the slot (not a fresh interval) is the next refresh.
        state = _state(resume_at=plan.resume_at)
        after = next_refresh(state, 300.0, Fetched(False), plan.next_refresh_at, rng)
        assert after.next_refresh_at == plan.resume_at and after.resume_at is None
    window = outage.catch_up_window(120.0, 300.0)
    assert min(times) >= 0.0 and max(times) <= window and max(times) > 0.8 * window
    # An outage longer than the interval missed every slot: the catch-up time is the new one.
    long = next_refresh(_state(), 300.0, CatchUp(900.0, 100.0, has_file=True), now, rng)
    assert long.resume_at is None and now <= long.next_refresh_at <= now + 270.0


@pytest.mark.parametrize("event", [Fetched(False), Fetched(True), Failed(), Due()])
def test_a_failed_or_fresh_schedule_forgets_a_stale_slot(event: object) -> None:
    state = _state(resume_at=NOW - 10.0, consecutive_failures=1)
    plan = next_refresh(state, 60.0, event, NOW, random.Random(6))  # type: ignore[arg-type]
    assert plan.resume_at is None and plan.next_refresh_at >= NOW
