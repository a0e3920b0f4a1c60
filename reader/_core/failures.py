"""What a failed call to a backend means: the one classification the reader and agent share.

Every failure is one of four kinds, whichever side (reader or agent) and whichever backend:

* ``NOT_FOUND``: the backend says authoritatively that the secret, the version or the field does
  not exist. Never served from stale data; the agent keeps the last file and reports it missing.
* ``DENIED``: the backend refused the caller (a policy, a rejected or expired credential, a key
  the caller may not decrypt). ``credentials`` is True when the refusal may be a dead token or
  expired credentials, which a fresh login can cure: the caller logs in again once and retries
  before it reports the refusal.
* ``UNAVAILABLE``: transient (refused, timeout, 5xx, sealed, throttled); ``retry_after`` is the
  server's hint in seconds when it sent one. Stale values and the agent's files may stand in.
* ``INVALID``: the request or the configuration is wrong and repeating it cannot help (a bad
  region or endpoint, an unknown auth mount, a certificate that does not verify, a request the
  server calls malformed). Reported as a configuration problem, never as an outage.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class FailureKind(Enum):
    """The four things a failed call can mean; see the module docstring."""

    NOT_FOUND = "not found"
    DENIED = "denied"
    UNAVAILABLE = "unavailable"
    INVALID = "invalid"


@dataclass(frozen=True)
class Failure:
    """One classified failure. ``reason`` is safe to show: it never holds a secret value.

    ``status`` (0 when there was no answer) and ``detail`` (Vault's error strings, or AWS's
    error code) are the facts it was classified from, for callers that word their own messages.
    """

    kind: FailureKind
    reason: str
    retry_after: float | None = None
    credentials: bool = False
    status: int = 0
    detail: str = ""


def parse_retry_after(value: object) -> float | None:
    """Seconds from a ``Retry-After`` header given in seconds; None if absent or malformed.

    (An HTTP date is not accepted: neither Vault nor AWS sends one.)
    """
    if value is None or isinstance(value, bool):
        return None
    try:
        seconds = float(str(value).strip())
    except ValueError:
        return None
    return seconds if 0 <= seconds < float("inf") else None


def transport_failure(reason: str, *, timed_out: bool = False) -> Failure:
    """A call that got no answer: refused, reset, DNS failure, or (``timed_out``) no answer in
    time. ``detail`` is ``"timeout"`` or ``"connection"``."""
    return Failure(FailureKind.UNAVAILABLE, reason, detail="timeout" if timed_out else "connection")


def certificate_failure(reason: str) -> Failure:
    """A TLS certificate that does not verify: a setup problem, not an outage."""
    return Failure(FailureKind.INVALID, f"TLS certificate verification failed ({reason})")


__all__ = [
    "Failure",
    "FailureKind",
    "certificate_failure",
    "parse_retry_after",
    "transport_failure",
]
