"""Vault's (and OpenBao's) error answers, classified: HTTP status plus the ``errors`` strings.

Both the reader's Vault backend and the agent's Vault source (hvac and the agent's own
keep-alive pool) reduce a failed call to ``(status, errors)`` and call ``classify``. The choices,
from Vault's ``logical.RespondErrorCommon`` and real OpenBao answers:

* 401 and 403 are ``DENIED`` with ``credentials=True`` on a read: OpenBao (and Vault before
  1.17) answer a revoked or expired token with a bare ``permission denied``, so whether the token
  is dead cannot be read from the text; the caller checks the token or logs in again once, then
  reports the refusal. At login time the credentials are what was refused (``credentials`` is
  False: logging in again cannot help). A 400 at login is Vault's "invalid role or secret ID".
* 404 is ``NOT_FOUND`` on a read (also KV v2's answer for a deleted or destroyed version) and
  ``INVALID`` at login (no auth method at that mount).
* 429, 412 (index state not yet replicated), 423, every 5xx (503: sealed) and the 472/473
  standby answers are ``UNAVAILABLE``; so is the brief 400 of a KV mount being upgraded to v2.
* Any other 4xx (400, 405, 413, 415) is ``INVALID``: the request is wrong and stays wrong.

Error strings are Vault's own (``permission denied``, ``invalid role or secret ID``); they never
contain secret values. Go's multi-error formatting ("1 error occurred: * ...") is flattened.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from .failures import Failure, FailureKind

MAX_DETAIL = 200

_UNAVAILABLE_4XX = frozenset({408, 412, 423, 429, 472, 473})
_UPGRADING = "upgrading from non-versioned to versioned"


def error_text(errors: Iterable[object] | None) -> str:
    """Vault's ``errors`` strings on one line (at most ``MAX_DETAIL`` characters)."""
    if not errors or isinstance(errors, str | bytes):
        return ""
    parts = []
    for item in errors:
        words = str(item).replace("*", " ").split()
        if len(words) >= 3 and words[1] in ("error", "errors") and words[2] == "occurred:":
            words = words[3:]
        if words:
            parts.append(" ".join(words))
    return "; ".join(parts)[:MAX_DETAIL]


def says_invalid_token(errors: Iterable[object] | None) -> bool:
    """Whether the answer names the token itself as invalid (current HashiCorp Vault's 403).

    A hint only: OpenBao says just ``permission denied`` for the same dead token, so a caller
    must not conclude that a token is good because this is False.
    """
    return "invalid token" in error_text(errors)


def classify(
    status: int,
    errors: Iterable[object] | None = None,
    *,
    login: bool = False,
    retry_after: float | None = None,
) -> Failure:
    """The ``Failure`` a Vault answer with HTTP ``status`` and ``errors`` stands for."""
    detail = error_text(errors)
    failure = _classify(status, detail, login, retry_after)
    return replace(failure, status=status, detail=detail)


def _classify(status: int, detail: str, login: bool, retry_after: float | None) -> Failure:
    shown = f"{status}: {detail}" if detail else str(status)
    if status in (401, 403):
        what = "login refused" if login else "permission denied"
        return Failure(FailureKind.DENIED, f"{what} ({shown})", credentials=not login)
    if status == 404:
        if login:
            return Failure(FailureKind.INVALID, f"no auth method at this mount ({shown})")
        return Failure(FailureKind.NOT_FOUND, f"not found ({shown})")
    if status == 400 and login:
        return Failure(FailureKind.DENIED, f"login refused ({shown})")
    if status == 400 and _UPGRADING in detail.lower():
        return Failure(FailureKind.UNAVAILABLE, f"KV mount is being upgraded ({shown})")
    if status == 429:
        return Failure(FailureKind.UNAVAILABLE, f"rate limited ({shown})", retry_after=retry_after)
    if status >= 500 or status in _UNAVAILABLE_4XX:
        return Failure(FailureKind.UNAVAILABLE, f"unavailable ({shown})")
    if 400 <= status < 500:
        return Failure(FailureKind.INVALID, f"request refused as invalid ({shown})")
    return Failure(FailureKind.UNAVAILABLE, f"unexpected answer ({shown})")


__all__ = ["MAX_DETAIL", "classify", "error_text", "says_invalid_token"]
