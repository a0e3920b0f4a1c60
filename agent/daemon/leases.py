"""Leased secrets (``kind = "lease"``): fetch (issue or renew), apply, release.

What to do and when is the policy's (``policy.lease_plan`` / ``policy.lease_action``); this
module carries it out. A fetch of a leased secret either renews the lease in force (nothing is
written: the files keep the credential the lease belongs to) or issues a new one, which is
rendered and written like any secret. A renewal the server refuses because it no longer knows
the lease (after an agent restart past its end, or a revoke) falls back to issuing. The old
lease of a replacement is let go only after the new files are in place and ``on_change`` ran:
revoked with ``revoke_replaced``, else left to expire. Only lease ids and times enter the
state (and so ``.status.json``), never the secret.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from secrets_agent.daemon.policy import LeaseTiming, lease_action
from secrets_agent.daemon.refresh import RefreshResult, refresh
from secrets_agent.daemon.state import SecretState
from secrets_agent.sources.result import SecretData, SourceError

if TYPE_CHECKING:
    from secrets_agent.config.load import SecretSpec
    from secrets_agent.daemon.table import SecretTable
    from secrets_agent.sources.vault.leases import LeaseReply
    from secrets_agent.writer.writer import SecretWriter

__all__ = [
    "LEASE_KEYS",
    "Issued",
    "Renewed",
    "fetch_leased",
    "lease_timing",
    "refresh_leased",
    "release",
    "restore_lease",
    "revoke_on_stop",
]

log = logging.getLogger(__name__)

# The state's lease fields, kept in ``.status.json`` so a restart renews instead of re-issuing.
LEASE_KEYS = (
    "lease_id",
    "lease_started_at",
    "lease_duration",
    "lease_expires_at",
    "lease_renewable",
    "lease_final",
    "replace_at",
)


class LeaseApi(Protocol):
    def issue(
        self, path: str, method: str, data: Sequence[tuple[str, str]] = ()
    ) -> tuple[SecretData, LeaseReply]: ...
    def renew(self, lease_id: str, increment: float) -> LeaseReply: ...
    def revoke(self, lease_id: str) -> None: ...


@dataclass(frozen=True)
class Issued:
    """A new lease and the secret it came with; ``old_gone``: the server no longer knew the
    lease it replaces (nothing to release)."""

    data: SecretData
    reply: LeaseReply
    old_gone: bool = False


@dataclass(frozen=True)
class Kept:
    """Nothing fetched: the lease or certificate in place is used until its replacement."""


@dataclass(frozen=True)
class Renewed:
    """The lease in force, extended."""

    reply: LeaseReply
    increment: float


def lease_timing(spec: SecretSpec) -> LeaseTiming | None:
    """The policy's settings for a leased secret; None for any other kind."""
    if spec.kind != "lease":
        return None
    return LeaseTiming(renew_at=spec.renew_at, margin=spec.replace_margin)


def lease_api(source: object) -> LeaseApi | None:
    """The source's lease operations (the Vault source has them), or None."""
    leases = getattr(source, "leases", None)
    return leases() if callable(leases) else None


def fetch_leased(
    source: object, spec: SecretSpec, state: SecretState, now: float
) -> tuple[Issued | Renewed | Kept | SourceError, float]:
    """Renew ``state``'s lease or issue a new one, as ``policy.lease_action`` says."""
    started = time.monotonic()
    api = lease_api(source)
    if api is None:
        return SourceError("leased secrets need the vault backend", path=spec.path), 0.0
    timing = lease_timing(spec)
    assert timing is not None
    outcome: Issued | Renewed | Kept | SourceError
    try:
        action = lease_action(state, timing, now)
        if action == "keep":
            return Kept(), time.monotonic() - started
        if action == "renew" and state.lease_id:
            from secrets_agent.sources.vault.leases import LeaseGoneError

            increment = state.lease_duration or 0.0
            try:
                outcome = Renewed(api.renew(state.lease_id, increment), increment)
            except LeaseGoneError as exc:
                log.info("lease of %s is gone (%s); fetching a new one", spec.target, exc)
                outcome = Issued(*api.issue(spec.path, spec.method, spec.data), old_gone=True)
        else:
            outcome = Issued(*api.issue(spec.path, spec.method, spec.data))
    except SourceError as exc:
        if exc.path is None:
            exc.path = spec.path
        outcome = exc
    return outcome, time.monotonic() - started


def refresh_leased(
    spec: SecretSpec,
    outcome: Issued | Renewed | Kept | SourceError,
    writer: SecretWriter,
    state: SecretState,
    *,
    now: float,
    fetch_seconds: float,
) -> RefreshResult:
    """``daemon.refresh.refresh`` for a leased secret: a renewal writes nothing; an issue is
    written like any secret and its lease recorded once the files are in place."""
    if isinstance(outcome, Renewed | Kept):
        state.last_attempt_at = now
        state.fetch_seconds = fetch_seconds
        if isinstance(outcome, Kept):
            return RefreshResult(ok=True, changed=False)
        _apply(state, outcome.reply, now, increment=outcome.increment)
        state.fetched_at = now
        state.last_error = None
        state.consecutive_failures = 0
        state.missing = False
        log.debug("renewed the lease of %s for %.0fs", spec.target, outcome.reply.duration)
        return RefreshResult(ok=True, changed=False)
    if isinstance(outcome, SourceError):
        return refresh(spec, outcome, writer, state, now=now, fetch_seconds=fetch_seconds)
    result = refresh(spec, outcome.data, writer, state, now=now, fetch_seconds=fetch_seconds)
    if result.ok:
        _apply(state, outcome.reply, now, increment=None)
    return result


def _apply(state: SecretState, reply: LeaseReply, now: float, *, increment: float | None) -> None:
    if increment is None:  # a renewal keeps the lease id
        state.lease_id = reply.lease_id
    if reply.not_after is not None and reply.lease_id is None:  # a certificate without a lease
        # Its life: from its notBefore (Vault back-dates it) or the issue, whichever is later.
        state.lease_started_at = max(now, reply.not_before or now)
        state.lease_expires_at = reply.not_after
        state.lease_duration = reply.not_after - state.lease_started_at
        state.lease_renewable = False
        state.lease_final = False
        return
    state.lease_started_at = now
    state.lease_duration = reply.duration
    state.lease_expires_at = now + reply.duration if reply.duration > 0 else None
    state.lease_renewable = reply.renewable
    # A renewal granted less than asked for: the lease has reached its max TTL.
    state.lease_final = increment is not None and (
        reply.duration + 1.0 < increment or not reply.renewable
    )
    if state.lease_final:
        log.info("the lease of %s cannot be extended past its max TTL", state.target)


def release(source: object, spec: SecretSpec, lease_id: str) -> None:
    """Revoke ``lease_id`` (a replaced lease, or every lease on stop); failures are logged."""
    api = lease_api(source)
    if api is None:
        return
    try:
        api.revoke(lease_id)
        log.info("revoked the old lease of %s", spec.target)
    except SourceError as exc:
        log.warning("could not revoke the old lease of %s: %s", spec.target, exc)


def restore_lease(entry: Mapping[str, Any]) -> dict[str, Any]:
    """The lease fields of a previous run's status entry, type-checked (``daemon.resume``)."""
    out: dict[str, Any] = {}
    lease_id = entry.get("lease_id")
    if not isinstance(lease_id, str) or not lease_id:
        lease_id = None
    out["lease_id"] = lease_id
    for key in ("lease_started_at", "lease_duration", "lease_expires_at"):
        value = entry.get(key)
        number = isinstance(value, int | float) and not isinstance(value, bool)
        out[key] = float(value) if number and value is not None else None
    for key in ("lease_renewable", "lease_final"):
        out[key] = entry.get(key) is True
    return out


def revoke_on_stop(table: SecretTable, source: Callable[[], object]) -> None:
    """Revoke the lease of every leased secret with ``revoke_on_stop`` (the agent stops)."""
    for spec in table.specs():
        if spec.kind != "lease" or not spec.revoke_on_stop:
            continue
        state = table.state(spec.target)
        if state is not None and state.lease_id:
            release(source(), spec, state.lease_id)
