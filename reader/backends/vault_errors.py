"""hvac and requests exceptions as ``_core`` failures, and those as the reader's errors.

``vault_failure`` reduces an exception to the plain facts (HTTP status, Vault's ``errors``
strings, or a transport failure) and lets ``_core.vault_answers`` classify them; the agent's
Vault source uses the same function, so both sides classify every answer alike.
``translate_vault_error`` turns the failure into the reader's error: not found ->
``SecretNotFoundError``, denied -> ``SecretAccessDeniedError``, unavailable ->
``SecretBackendUnavailableError``, invalid -> ``SecretConfigurationError``.

A TLS certificate that fails verification (unknown CA, a certificate for another host name) is
invalid, not unavailable: only ``VAULT_CACERT``, ``VAULT_ADDR`` or the server's certificate can
cure it, so it is neither served from stale cache entries nor hidden behind the agent's files.
"""

from __future__ import annotations

import ssl
import threading
from typing import Any

from .._core import vault_answers
from .._core.failures import (
    Failure,
    FailureKind,
    certificate_failure,
    parse_retry_after,
    transport_failure,
)
from ..errors import ERROR_FOR_KIND, SecretManagerError

# hvac raises one class per status (hvac.exceptions.VaultError.from_status) and keeps no status.
HVAC_STATUS = {
    "InvalidRequest": 400,
    "Unauthorized": 401,
    "Forbidden": 403,
    "InvalidPath": 404,
    "UnsupportedOperation": 405,
    "PreconditionFailed": 412,
    "RateLimitExceeded": 429,
    "InternalServerError": 500,
    "VaultNotInitialized": 501,
    "BadGateway": 502,
    "VaultDown": 503,
}

# The status and Retry-After of this thread's last answer: hvac's exceptions keep neither, and
# raise one catch-all class for statuses it has no class for (405, 412, 423, ...).
_last_answer = threading.local()


def record_answer(response: Any, *args: object, **kwargs: object) -> None:
    """requests response hook: remember the status (and a 429's ``Retry-After``) per thread."""
    status = int(response.status_code)
    _last_answer.status = status
    _last_answer.retry_after = (
        parse_retry_after(response.headers.get("Retry-After")) if status == 429 else None
    )


def last_answer() -> tuple[int, float | None]:
    """``(status, retry_after)`` of this thread's last answer (0, None when none recorded)."""
    return getattr(_last_answer, "status", 0), getattr(_last_answer, "retry_after", None)


def cert_verification_reason(exc: BaseException) -> str | None:
    """Why certificate verification failed, if an ``SSLCertVerificationError`` is behind
    ``exc`` (directly, chained, or wrapped by requests/urllib3); else None."""
    pending: list[object] = [exc]
    seen: set[int] = set()
    while pending and len(seen) < 32:
        item = pending.pop()
        if not isinstance(item, BaseException) or id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, ssl.SSLCertVerificationError):
            reason = item.verify_message or "certificate verify failed"
            return " ".join(str(reason).split()).rstrip(".")
        pending.extend((item.__cause__, item.__context__, getattr(item, "reason", None)))
        pending.extend(item.args)
    return None


def vault_errors_of(exc: BaseException) -> list[object] | None:
    """Vault's ``errors`` strings carried by an hvac exception, if any."""
    errors = getattr(exc, "errors", None)
    return errors if isinstance(errors, list) else None


def vault_failure(
    exc: BaseException, *, login: bool = False, retry_after: float | None = None
) -> Failure | None:
    """The ``Failure`` behind an hvac or requests exception; None for any other exception."""
    from hvac import exceptions as hv
    from requests import exceptions as rq

    if isinstance(exc, rq.SSLError | ssl.SSLError):
        reason = cert_verification_reason(exc)
        if reason is not None:
            return certificate_failure(reason)
    if isinstance(exc, hv.VaultError):
        recorded, recorded_retry_after = last_answer()
        status = HVAC_STATUS.get(type(exc).__name__) or (recorded if recorded >= 300 else 0)
        if retry_after is None and status == 429 and recorded == 429:
            retry_after = recorded_retry_after
        return vault_answers.classify(
            status, vault_errors_of(exc), login=login, retry_after=retry_after
        )
    if isinstance(exc, rq.Timeout):
        return transport_failure("timed out", timed_out=True)
    if isinstance(exc, rq.RequestException | OSError):
        return transport_failure(f"unreachable ({type(exc).__name__})")
    return None


def is_invalid_token(exc: BaseException) -> bool:
    """Whether ``exc`` is a 403 whose text names the token invalid (a hint; see
    ``vault_answers.says_invalid_token``)."""
    return type(exc).__name__ == "Forbidden" and vault_answers.says_invalid_token(
        vault_errors_of(exc)
    )


def translate_vault_error(
    exc: BaseException, where: str, *, login: bool = False
) -> SecretManagerError:
    """Map an hvac/requests exception to a ``SecretManagerError`` (not raised)."""
    if isinstance(exc, SecretManagerError):
        return exc
    failure = vault_failure(exc, login=login)
    if failure is None:
        return SecretManagerError(f"{where}: unexpected error ({type(exc).__name__})")
    return error_of(failure, where)


def error_of(failure: Failure, where: str) -> SecretManagerError:
    """The reader's error for a classified Vault failure."""
    reason = failure.reason
    if failure.kind is FailureKind.INVALID and reason.startswith("TLS"):
        reason += "; check VAULT_CACERT and that VAULT_ADDR names a host the certificate is for"
    elif failure.kind is FailureKind.INVALID and "auth method" in reason:
        reason += "; check the auth mount"
    return ERROR_FOR_KIND[failure.kind.value](f"{where}: {reason}", backend="vault")


__all__ = [
    "HVAC_STATUS",
    "cert_verification_reason",
    "error_of",
    "is_invalid_token",
    "last_answer",
    "record_answer",
    "translate_vault_error",
    "vault_errors_of",
    "vault_failure",
]
