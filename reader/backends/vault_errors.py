"""Translation of hvac and requests exceptions into the reader's errors, in one place.

403/401 -> access denied, 404 -> not found, 429/5xx/sealed/unknown status and every transport
failure (refused, timeout, reset) -> unavailable, 400 -> a plain ``SecretManagerError`` (or
access denied during login). Messages use only the exception's type and Vault's error strings,
which never contain secret values.
"""

from __future__ import annotations

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


def translate_vault_error(
    exc: BaseException, where: str, *, login: bool = False
) -> SecretManagerError:
    """Map an hvac/requests exception to a ``SecretManagerError`` (not raised)."""
    from hvac import exceptions as hv
    from requests import exceptions as rq

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


__all__ = ["is_invalid_token", "translate_vault_error"]
