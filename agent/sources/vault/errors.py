"""hvac, requests and raw HTTP answers from Vault as the agent's ``SourceError`` family.

The classification is the reader's (``libs.secrets._core.vault_answers``, through
``libs.secrets.backends.vault_errors.vault_failure`` for hvac and requests exceptions), so the
agent and the reader call the same answer the same thing; this module only words the agent's
messages. They carry the HTTP status and Vault's ``errors`` strings (which never hold secret
values), never a response body.

A TLS certificate that does not verify (unknown CA, a certificate for another host name) is a
``TLSVerificationError``: a ``ConfigurationError``, not "unavailable" (no outage probing),
since only a configuration change (``ca_cert``, ``address``) or a fixed server certificate
cures it. The reader raises ``SecretConfigurationError`` for the same failure.
"""

from __future__ import annotations

from libs.secrets._core import vault_answers
from libs.secrets._core.failures import Failure, FailureKind, parse_retry_after
from libs.secrets._core.vault_addresses import fails_over
from libs.secrets.backends.vault_errors import (
    cert_verification_reason,
    is_invalid_token,
    last_answer,
    record_answer,
    vault_errors_of,
    vault_failure,
)
from secrets_agent.sources.result import (
    AuthenticationError,
    BackendUnavailableError,
    ConfigurationError,
    InvalidResponseError,
    SecretMissingError,
    SourceError,
    error_of,
)

__all__ = [
    "NodeUnavailableError",
    "TLSVerificationError",
    "is_invalid_token",
    "last_retry_after",
    "map_vault_error",
    "parse_retry_after",
    "record_response_hook",
    "source_error",
    "tls_verification_error",
    "vault_detail",
]


class NodeUnavailableError(BackendUnavailableError):
    """This Vault node gave no usable answer (no connection, a timeout, a 5xx, a standby's
    redirect): another node of the cluster may answer (``libs.secrets._core.vault_addresses``)."""


class TLSVerificationError(ConfigurationError):
    """Vault's TLS certificate did not verify against the configured CA (or for the host)."""


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


# The requests response hook that records each answer's status and a 429's Retry-After for
# the calling thread (hvac's exceptions keep neither), and what it recorded last.
record_response_hook = record_answer


def last_retry_after() -> float | None:
    """The ``Retry-After`` (seconds) of this thread's last response, if it was a 429."""
    status, retry_after = last_answer()
    return retry_after if status == 429 else None


def vault_detail(exc: BaseException) -> str:
    """Vault's error strings joined on one line (``errors`` only, never the raw body)."""
    return vault_answers.error_text(vault_errors_of(exc))


def source_error(
    failure: Failure, *, where: str, path: str | None, login: bool = False
) -> SourceError:
    """The agent's error for a classified Vault failure met while ``where``."""
    status, suffix = failure.status, f": {failure.detail}" if failure.detail else ""
    kind = failure.kind
    if kind is FailureKind.NOT_FOUND:
        return SecretMissingError(f"Vault has no secret at {path!r} ({status})", path=path)
    if kind is FailureKind.DENIED and login:
        verb = "rejected" if status == 400 else "denied"
        return AuthenticationError(f"Vault {where} {verb} ({status}){suffix}", path=path)
    if kind is FailureKind.DENIED:
        message = f"Vault denied {where} ({status}){suffix}"
    elif kind is FailureKind.INVALID and login and status == 404:
        message = f"Vault has no auth method for {where} (404); check the auth mount{suffix}"
    elif kind is FailureKind.INVALID:
        message = f"Vault refused {where} as invalid ({status}){suffix}"
    elif status == 0 and failure.detail == "timeout":
        message = f"Vault timed out while {where}"
    elif status == 0:
        message = f"cannot connect to Vault while {where} ({failure.reason})"
    elif status == 429:
        message = f"Vault rate limit while {where} (429){suffix}"
    elif status == 503:
        message = f"Vault unavailable while {where}{suffix}"
    else:
        message = f"Vault unavailable ({status}) while {where}{suffix}"
    if fails_over(failure):
        return NodeUnavailableError(message, path=path, retry_after=failure.retry_after)
    return error_of(failure, message, path=path)


def map_vault_error(
    exc: BaseException,
    *,
    path: str | None,
    action: str,
    address: str | None = None,
    login: bool = False,
) -> SourceError:
    """Return the ``SourceError`` for an exception raised while ``action`` (e.g. "reading")
    against the Vault at ``address``; ``login`` when the call was a login."""
    where = f"{action} {path!r}" if path else action
    if isinstance(exc, SourceError):
        return exc
    reason = cert_verification_reason(exc)
    if reason is not None:
        return tls_verification_error(reason, address=address, where=where, path=path)
    failure = vault_failure(exc, login=login)
    if failure is not None:
        return source_error(failure, where=where, path=path, login=login)
    if isinstance(exc, ValueError | TypeError | KeyError | AttributeError | RecursionError):
        return InvalidResponseError(f"unexpected Vault response while {where}", path=path)
    return SourceError(f"{type(exc).__name__} while {where}", path=path)
