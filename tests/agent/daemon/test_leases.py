"""The lease rules of the policy (pure: a fake clock), applying what the server granted, and
the lease fields in status and metrics."""

from __future__ import annotations

import random

import pytest
from secrets_agent.daemon.leases import Kept, Renewed, refresh_leased, restore_lease
from secrets_agent.daemon.policy import (
    Failed,
    Fetched,
    LeaseTiming,
    lease_action,
    lease_plan,
    next_refresh,
)
from secrets_agent.daemon.state import SecretState
from secrets_agent.sources.vault.leases import LeaseReply

TIMING = LeaseTiming(renew_at=2 / 3, margin=30.0)
RNG = random.Random(1)


def _lease(**kw: object) -> SecretState:
    state = SecretState(path="database/creds/app", target="db")
    for key, value in {
        "lease_id": "database/creds/app/x",
        "lease_started_at": 1000.0,
        "lease_duration": 3600.0,
        "lease_expires_at": 4600.0,
        "lease_renewable": True,
        **kw,
    }.items():
        setattr(state, key, value)
    return state


def test_a_renewable_lease_is_renewed_at_two_thirds() -> None:
    state = _lease()
    at, replace = lease_plan(state, TIMING, now=1000.0)
    assert at == pytest.approx(1000 + 2400)
    assert replace == pytest.approx(4600 - 30)
    assert lease_action(state, TIMING, at) == "renew"
    schedule = next_refresh(state, 300.0, Fetched(first=True), 1000.0, RNG, TIMING)
    assert schedule.next_refresh_at == pytest.approx(3400) and schedule.replace_at == replace


def test_a_lease_at_its_max_ttl_is_replaced_the_margin_before_its_end() -> None:
    state = _lease(lease_started_at=3400.0, lease_duration=100.0, lease_expires_at=3500.0)
    state.lease_final = True
    at, replace = lease_plan(state, TIMING, now=3400.0)
    assert at == replace == pytest.approx(3470)
    assert lease_action(state, TIMING, 3469.0) == "keep"
    assert lease_action(state, TIMING, 3470.0) == "issue"


def test_a_margin_longer_than_the_lease_never_replaces_it_at_once() -> None:
    state = _lease(lease_duration=9.0, lease_expires_at=1009.0)
    at, replace = lease_plan(state, TIMING, now=1000.0)
    assert at == pytest.approx(1006) and 1006 < replace < 1009
    assert lease_action(state, TIMING, 1006.0) == "renew"


def test_a_certificate_is_reissued_at_its_fraction_and_kept_until_then() -> None:
    cert = _lease(lease_id=None, lease_renewable=False, lease_duration=None)
    cert.lease_started_at, cert.lease_expires_at = 1000.0, 1030.0
    at, replace = lease_plan(cert, LeaseTiming(renew_at=0.5, margin=5.0), now=1000.0)
    assert at == replace == pytest.approx(1015)
    assert lease_action(cert, LeaseTiming(0.5, 5.0), 1010.0) == "keep"
    assert lease_action(cert, LeaseTiming(0.5, 5.0), 1015.0) == "issue"


def test_no_lease_yet_means_issue_and_the_interval_schedule() -> None:
    state = SecretState(path="database/creds/app", target="db")
    assert lease_action(state, TIMING, 0.0) == "issue"
    schedule = next_refresh(state, 300.0, Failed(), 0.0, RNG, TIMING)
    assert schedule.replace_at is None and 0 < schedule.next_refresh_at <= 300


def test_a_failure_retries_within_a_quarter_of_what_is_left() -> None:
    state = _lease()
    state.consecutive_failures = 20  # the interval backoff would wait the whole interval
    schedule = next_refresh(state, 3600.0, Failed(), 4400.0, RNG, TIMING)
    assert schedule.next_refresh_at <= 4400 + 200 / 4


def test_a_renewal_granted_less_than_asked_marks_the_max_ttl(tmp_path: object) -> None:
    from secrets_agent.config.schema import SecretSpec

    spec = SecretSpec(path="database/creds/app", target="db", kind="lease")
    state = _lease()
    full = Renewed(LeaseReply("database/creds/app/x", 3600.0, True), 3600.0)
    result = refresh_leased(spec, full, None, state, now=3400.0, fetch_seconds=0.01)  # type: ignore[arg-type]
    assert result.ok and not result.changed and not state.lease_final
    assert state.lease_expires_at == pytest.approx(7000)
    capped = Renewed(LeaseReply("database/creds/app/x", 500.0, True), 3600.0)
    refresh_leased(spec, capped, None, state, now=5800.0, fetch_seconds=0.01)  # type: ignore[arg-type]
    assert state.lease_final and state.lease_expires_at == pytest.approx(6300)
    kept = refresh_leased(spec, Kept(), None, state, now=5900.0, fetch_seconds=0.0)  # type: ignore[arg-type]
    assert kept.ok and not kept.changed and state.lease_id == "database/creds/app/x"


def test_restore_lease_takes_only_well_typed_values() -> None:
    restored = restore_lease(
        {"lease_id": "x/1", "lease_expires_at": 5, "lease_duration": "9", "lease_final": 1}
    )
    assert restored["lease_id"] == "x/1" and restored["lease_expires_at"] == 5.0
    assert restored["lease_duration"] is None and restored["lease_final"] is False


def test_status_and_metrics_show_the_lease_without_its_id() -> None:
    from secrets_agent.metrics import render_metrics
    from secrets_agent.status import format_status, state_entry

    state = _lease(replace_at=4570.0)
    entry = state_entry(state)
    assert entry["lease_id"] == "database/creds/app/x"
    text = format_status({"agent": {}, "secrets": [entry]}, now=1000.0)
    assert "LEASE" in text and "ends in" in text and "replaced in" in text
    metrics = render_metrics([state], {}, now=1000.0)
    assert 'secrets_agent_lease_expiry_timestamp_seconds{target="db"} 4600' in metrics
    assert 'secrets_agent_lease_replace_seconds{target="db"} 3570' in metrics
    assert "database/creds/app/x" not in metrics
