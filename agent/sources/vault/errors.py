"""Translate hvac and requests exceptions into the agent's ``SourceError`` family.

Messages carry the HTTP status, the error class and Vault's ``errors`` strings (which never hold
secret values), never a response body.

A TLS certificate that does not verify (unknown CA, a certificate for another host name) is a
``TLSVerificationError``: not transient and not "unavailable" (no outage probing), since only
a configuration change (``ca_cert``, ``address``) or a fixed server certificate cures it. The
reader raises ``SecretConfigurationError`` for the same failure.
"""

from __future__ import annotations

import ssl
import threading

import hvac.exceptions as hvac_exc
import requests
from libs.secrets.backends.vault_errors import cert_verification_reason
from secrets_agent.sources.result import (
    AccessDeniedError,
    AuthenticationError,
    BackendUnavailableError,
    InvalidResponseError,
    SecretMissingError,
    SourceError,
)

_MAX_DETAIL = 200


class TLSVerificationError(SourceError):
    """Vault's TLS certificate did not verify against the configured CA (or for the host)."""

    retryable = False


def tls_verification_error(
    reason: str, *, address: str | None, where: str, path: str | None
) -> TLSVerificationError:
    """The one-line error for a certificate that failed verification."""
    at = f" at {address}" if address else ""
    return TLSVerificationError(
        f"TLS certificate verification failed for Vault{at} while {where}: {reason} "
        "(check ca_cert and that address names a host the certificate is for)",
        path=path,
    )


# Retry-After of the last 429 seen by this thread (hvac's exceptions do not keep headers).
_last_response = threading.local()


def record_response_hook(response: requests.Response, *args: object, **kwargs: object) -> None:
    """requests response hook: remember the ``Retry-After`` of a 429 for the calling thread."""
    retry_after: float | None = None
    if response.status_code == 429:
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
    _last_response.retry_after = retry_after


def last_retry_after() -> float | None:
    """The ``Retry-After`` (seconds) of this thread's last response, if it was a 429."""
    value = getattr(_last_response, "retry_after", None)
    return value if isinstance(value, float) else None


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header given in seconds; None if absent or malformed."""
    if not value:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


def vault_detail(exc: hvac_exc.VaultError) -> str:
    """Vault's error strings joined on one line (``errors`` only, never the raw body)."""
    errors = exc.errors if isinstance(exc.errors, list) else []
    text = "; ".join(" ".join(str(e).replace("*", " ").split()) for e in errors)
    return text[:_MAX_DETAIL]


def is_invalid_token(exc: BaseException) -> bool:
    """True for Vault's 403 that means the token itself is bad (expired, revoked, unknown)."""
    return isinstance(exc, hvac_exc.Forbidden) and "invalid token" in vault_detail(exc)


def map_vault_error(
    exc: BaseException, *, path: str | None, action: str, address: str | None = None
) -> SourceError:
    """Return the ``SourceError`` for an exception raised while ``action`` (e.g. "reading")
    against the Vault at ``address``."""
    where = f"{action} {path!r}" if path else action
    if isinstance(exc, SourceError):
        return exc
    if isinstance(exc, requests.exceptions.SSLError | ssl.SSLError):
        reason = cert_verification_reason(exc)
        if reason is not None:
            return tls_verification_error(reason, address=address, where=where, path=path)
    if isinstance(exc, hvac_exc.VaultError):
        detail = vault_detail(exc)
        suffix = f": {detail}" if detail else ""
        name = type(exc).__name__
        if isinstance(exc, hvac_exc.InvalidPath):
            return SecretMissingError(f"Vault has no secret at {path!r} (404)", path=path)
        if isinstance(exc, hvac_exc.Forbidden):
            return AccessDeniedError(f"Vault denied {where} (403){suffix}", path=path)
        if isinstance(exc, hvac_exc.RateLimitExceeded):
            return BackendUnavailableError(
                f"Vault rate limit while {where} (429){suffix}",
                path=path,
                retry_after=last_retry_after(),
            )
        if isinstance(exc, hvac_exc.VaultDown | hvac_exc.VaultNotInitialized):
            return BackendUnavailableError(f"Vault unavailable while {where}{suffix}", path=path)
        if isinstance(exc, hvac_exc.InternalServerError | hvac_exc.BadGateway):
            return BackendUnavailableError(f"Vault error {name} while {where}{suffix}", path=path)
        if isinstance(exc, hvac_exc.Unauthorized):
            return AuthenticationError(f"Vault rejected the credentials (401){suffix}", path=path)
        return SourceError(f"Vault {name} while {where}{suffix}", path=path)
    if isinstance(exc, requests.exceptions.Timeout):
        return BackendUnavailableError(f"Vault timed out while {where}", path=path)
    if isinstance(exc, requests.exceptions.ConnectionError):
        return BackendUnavailableError(f"cannot connect to Vault while {where}", path=path)
    if isinstance(exc, requests.exceptions.RequestException):
        return BackendUnavailableError(f"HTTP error {type(exc).__name__} while {where}", path=path)
    if isinstance(exc, ValueError | TypeError | KeyError | AttributeError):
        return InvalidResponseError(f"unexpected Vault response while {where}", path=path)
    return SourceError(f"{type(exc).__name__} while {where}", path=path)
