"""``SecretState``: the non-secret bookkeeping of one configured secret.

A state stored in the ``SecretTable`` is never changed in place: an update stores a changed copy,
so a snapshot (for the status file, metrics, ``Agent.states``) can hold references safely.

``notable_change`` tells the publisher which updates an operator must see soon (a failure, a
recovery, new files, a new lease) from the routine ones every unchanged refresh makes (the
times of the last fetch and the next one).
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field, fields


@dataclass(slots=True)
class SecretState:
    """Non-secret bookkeeping for one configured secret; serialised into ``.status.json``."""

    path: str
    target: str
    version: str | None = None
    fetched_at: float | None = None  # wall-clock time of the last successful fetch
    changed_at: float | None = None  # wall-clock time the files last changed
    last_attempt_at: float | None = None
    next_refresh_at: float | None = None
    last_error: str | None = None
    consecutive_failures: int = 0
    errors_total: int = 0
    fetch_seconds: float | None = None  # latency of the last fetch
    missing: bool = False  # the backend now reports the secret missing; files kept
    files: list[str] = field(default_factory=list)  # paths relative to output_dir
    resume_at: float | None = None  # the pre-outage slot to return to after a catch-up fetch
    # ``daemon.confirm``: what lets a refresh confirm the secret without reading it again
    stamp: int | None = None  # the source's stamp of the version written (``SecretData.stamp``)
    files_mark: int | None = None  # the identity of the files as written (``writer.identity``)
    confirmations: int = 0  # refreshes confirmed without a read since the last read
    # kind = "lease" (``daemon.leases``): the lease in force (its id, never the secret)
    lease_id: str | None = None  # None for a certificate issued without a lease
    lease_started_at: float | None = None  # when the lease was granted or last renewed
    lease_duration: float | None = None  # seconds it was granted for then
    lease_expires_at: float | None = None  # the lease's (or certificate's) end
    lease_renewable: bool = False
    lease_final: bool = False  # the server cannot extend it any more (max TTL reached)
    replace_at: float | None = None  # when a replacement is fetched (decided by the policy)

    def __copy__(self) -> SecretState:
        """A shallow copy (``copy.copy``): the fields passed to the constructor, several times
        cheaper than the generic copy of a slotted class (a copy is made at every refresh)."""
        return SecretState(*_ALL_FIELDS(self))


_ALL_FIELDS = operator.attrgetter(*(f.name for f in fields(SecretState)))


# What a refresh that changed nothing leaves alone; a change of any of these is published soon.
NOTABLE_FIELDS = (
    "version",
    "changed_at",
    "last_error",
    "consecutive_failures",
    "missing",
    "files",
    "lease_id",
    "lease_expires_at",
    "lease_final",
)


def notable_change(old: SecretState | None, new: SecretState) -> bool:
    """True if ``new`` differs from ``old`` (None: a new secret) in what an operator acts on:
    anything but the routine times of an unchanged refresh (see ``NOTABLE_FIELDS``)."""
    if old is None:
        return True
    return any(getattr(old, name) != getattr(new, name) for name in NOTABLE_FIELDS)
