"""Translation of hvac and requests exceptions into the reader's errors, in one place.

403/401 -> access denied, 404 -> not found, 429/5xx/sealed/unknown status and every transport
failure (refused, timeout, reset) -> unavailable, 400 -> a plain ``SecretManagerError`` (or
access denied during login). Messages use only the exception's type and Vault's error strings,
which never contain secret values.

A TLS certificate that fails verification (unknown CA, a certificate for another host name) is
a ``SecretConfigurationError``, not "unavailable": it is not transient (only ``VAULT_CACERT``,
``VAULT_ADDR`` or the server's certificate can cure it), so it is neither served from stale
cache entries nor hidden behind the agent's files. The agent reports the same failure as a
non-retryable ``TLSVerificationError``.
"""

from __future__ import annotations

import ssl

from ..errors import (
    SecretAccessDeniedError,
    SecretBackendUnavailableError,
    SecretConfigurationError,
    SecretManagerError,
    SecretNotFoundError,
)


def is_invalid_token(exc: BaseException) -> bool:
    """Whether ``exc`` is Vault's 403 ``invalid token``."""
    errors = getattr(exc, "errors", None)
    return type(exc).__name__ == "Forbidden" and any(
        "invalid token" in str(item) for item in errors or ()
    )


def _reason(exc: BaseException) -> str:
    errors = getattr(exc, "errors", None)
    if errors:
        return ", ".join(str(item) for item in errors)[:200]
    return type(exc).__name__


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


def translate_vault_error(
    exc: BaseException, where: str, *, login: bool = False
) -> SecretManagerError:
    """Map an hvac/requests exception to a ``SecretManagerError`` (not raised)."""
    from hvac import exceptions as hv
    from requests import exceptions as rq

    if isinstance(exc, rq.SSLError | ssl.SSLError):
        failure = cert_verification_reason(exc)
        if failure is not None:
            return SecretConfigurationError(
                f"{where}: TLS certificate verification failed ({failure}); check VAULT_CACERT "
                "and that VAULT_ADDR names a host the certificate is for",
                backend="vault",
            )
    reason = _reason(exc)
    if isinstance(exc, hv.Forbidden | hv.Unauthorized):
        return SecretAccessDeniedError(f"{where}: access denied ({reason})", backend="vault")
    if isinstance(exc, hv.InvalidRequest) and login:
        return SecretAccessDeniedError(f"{where}: login refused ({reason})", backend="vault")
    if isinstance(exc, hv.InvalidPath):
        if login:
            return SecretConfigurationError(
                f"{where}: auth method not found; check the auth mount ({reason})", backend="vault"
            )
        return SecretNotFoundError(f"{where}: not found", backend="vault")
    if isinstance(
        exc,
        hv.RateLimitExceeded
        | hv.InternalServerError
        | hv.VaultNotInitialized
        | hv.BadGateway
        | hv.VaultDown
        | hv.UnexpectedError,
    ):
        return SecretBackendUnavailableError(f"{where}: unavailable ({reason})", backend="vault")
    if isinstance(exc, rq.RequestException):
        return SecretBackendUnavailableError(f"{where}: unreachable ({reason})", backend="vault")
    if isinstance(exc, hv.VaultError):
        return SecretManagerError(f"{where}: request failed ({reason})", backend="vault")
    if isinstance(exc, SecretManagerError):
        return exc
    return SecretManagerError(f"{where}: unexpected error ({reason})", backend="vault")


__all__ = ["cert_verification_reason", "is_invalid_token", "translate_vault_error"]
