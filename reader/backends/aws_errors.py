"""Translation of botocore exceptions into the reader's errors, in one place.

By error code first (botocore's ``ClientError.response["Error"]["Code"]``), then by HTTP
status: access/credential/KMS refusals -> access denied; throttling, 5xx, timeouts and every
transport failure -> unavailable; missing credentials or region -> configuration error. Messages
carry the code and AWS's message, which never contain secret values.
"""

from __future__ import annotations

from typing import Any

from ..errors import (
    SecretAccessDeniedError,
    SecretBackendUnavailableError,
    SecretConfigurationError,
    SecretManagerError,
    SecretNotFoundError,
)

_DENIED = frozenset(
    {
        "AccessDeniedException",
        "AccessDenied",
        "DecryptionFailure",
        "UnrecognizedClientException",
        "InvalidSignatureException",
        "SignatureDoesNotMatch",
        "IncompleteSignature",
        "InvalidClientTokenId",
        "ExpiredTokenException",
        "ExpiredToken",
        "MissingAuthenticationToken",
        "401",
        "403",
    }
)
_UNAVAILABLE = frozenset(
    {
        "InternalServiceError",
        "InternalFailure",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "RequestTimeout",
        "RequestTimeoutException",
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "SlowDown",
        "429",
    }
)
_CONFIGURATION = frozenset(
    {"NoCredentialsError", "PartialCredentialsError", "NoRegionError", "ProfileNotFound"}
)


def _code(exc: BaseException) -> tuple[str, str, int]:
    response: Any = getattr(exc, "response", None) or {}
    error = response.get("Error") or {}
    status = (response.get("ResponseMetadata") or {}).get("HTTPStatusCode") or 0
    return str(error.get("Code", "")), str(error.get("Message", ""))[:200], int(status)


def is_not_found(exc: BaseException) -> bool:
    """Whether ``exc`` is a ``ResourceNotFoundException`` ClientError."""
    return _code(exc)[0] == "ResourceNotFoundException"


def translate_aws_error(exc: BaseException, where: str) -> SecretManagerError:
    """Map a botocore exception to a ``SecretManagerError`` (not raised)."""
    from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError

    if isinstance(exc, ClientError):
        code, message, status = _code(exc)
        text = f"{where}: {code or status}" + (f" ({message})" if message else "")
        if code == "ResourceNotFoundException":
            return SecretNotFoundError(text, backend="aws")
        if code == "InvalidRequestException" and "delet" in message.lower():
            return SecretNotFoundError(text, backend="aws")
        if code in _DENIED or status in (401, 403):
            return SecretAccessDeniedError(text, backend="aws")
        if code in _UNAVAILABLE or status >= 500 or status == 429:
            return SecretBackendUnavailableError(text, backend="aws")
        return SecretManagerError(text, backend="aws")
    name = type(exc).__name__
    if isinstance(exc, ParamValidationError):
        return SecretManagerError(f"{where}: invalid request ({name})", backend="aws")
    if name in _CONFIGURATION:
        return SecretConfigurationError(f"{where}: {exc}", backend="aws")
    if isinstance(exc, BotoCoreError):
        return SecretBackendUnavailableError(f"{where}: {name} ({exc})"[:400], backend="aws")
    return SecretManagerError(f"{where}: unexpected error ({name})", backend="aws")


__all__ = ["is_not_found", "translate_aws_error"]
