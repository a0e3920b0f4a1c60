"""Translate botocore errors and per-secret ``BatchGetSecretValue`` errors into ``SourceError``s.

Messages carry the AWS error code and the secret's id, never AWS's message text or a body.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    ParamValidationError,
    PartialCredentialsError,
    ReadTimeoutError,
)
from secrets_agent.sources.result import (
    AccessDeniedError,
    AuthenticationError,
    BackendUnavailableError,
    SecretMissingError,
    SourceError,
)

THROTTLING_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "LimitExceededException",
        "429",
    }
)
UNAVAILABLE_CODES = frozenset(
    {
        "InternalServiceError",
        "InternalFailure",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "RequestTimeout",
        "RequestTimeoutException",
        "500",
        "502",
        "503",
        "504",
    }
)
AUTH_CODES = frozenset(
    {
        "UnrecognizedClientException",
        "InvalidSignatureException",
        "ExpiredTokenException",
        "ExpiredToken",
        "InvalidClientTokenId",
        "MissingAuthenticationToken",
        "IncompleteSignature",
        "SignatureDoesNotMatch",
    }
)
# A call-level error that means "this account or endpoint cannot batch": use GetSecretValue.
BATCH_UNSUPPORTED_CODES = frozenset(
    {
        "AccessDeniedException",
        "UnknownOperationException",
        "InvalidAction",
        "UnsupportedOperation",
        "NotImplemented",
        "403",
        "404",
        "501",
    }
)


def client_error_code(exc: ClientError) -> str:
    """The AWS error code of a ``ClientError`` (``""`` when absent)."""
    error = exc.response.get("Error") or {}
    return str(error.get("Code") or "")


def retry_after_of(exc: ClientError) -> float | None:
    """Seconds from a ``Retry-After`` / ``x-amz-retry-after`` header of the failed response."""
    metadata: Any = exc.response.get("ResponseMetadata") or {}
    headers: Any = metadata.get("HTTPHeaders") or {}
    for name in ("retry-after", "x-amz-retry-after"):
        value = headers.get(name)
        if value is None:
            continue
        try:
            seconds = float(value)
        except (TypeError, ValueError):
            continue
        if name == "x-amz-retry-after":
            seconds /= 1000.0  # milliseconds
        if seconds >= 0:
            return seconds
    return None


def error_for_code(code: str, *, path: str | None, retry_after: float | None = None) -> SourceError:
    """The ``SourceError`` for an AWS error code about ``path`` (or the whole call)."""
    what = f"secret {path!r}" if path else "the request"
    if code == "ResourceNotFoundException":
        return SecretMissingError(f"AWS has no {what} (ResourceNotFoundException)", path=path)
    if code == "InvalidRequestException":
        # Most often: the secret is scheduled for deletion.
        return SecretMissingError(f"AWS refused {what} (InvalidRequestException)", path=path)
    if code in ("AccessDeniedException", "AccessDenied", "DecryptionFailure"):
        return AccessDeniedError(f"AWS denied {what} ({code})", path=path)
    if code in THROTTLING_CODES:
        return BackendUnavailableError(
            f"AWS throttled {what} ({code})", path=path, retry_after=retry_after
        )
    if code in UNAVAILABLE_CODES:
        return BackendUnavailableError(f"AWS failed {what} ({code})", path=path)
    if code in AUTH_CODES:
        return AuthenticationError(f"AWS rejected the credentials ({code})", path=path)
    return SourceError(f"AWS error for {what} ({code or 'unknown'})", path=path)


def map_aws_error(exc: BaseException, *, path: str | None) -> SourceError:
    """Return the ``SourceError`` for an exception from a boto3 call."""
    if isinstance(exc, SourceError):
        return exc
    if isinstance(exc, ClientError):
        return error_for_code(client_error_code(exc), path=path, retry_after=retry_after_of(exc))
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return AuthenticationError("no usable AWS credentials found", path=path)
    if isinstance(exc, NoRegionError):
        return AuthenticationError("no AWS region configured", path=path)
    if isinstance(exc, ParamValidationError):
        return SourceError(f"invalid request for secret {path!r}", path=path)
    if isinstance(
        exc,
        EndpointConnectionError | ConnectTimeoutError | ReadTimeoutError | ConnectionClosedError,
    ):
        return BackendUnavailableError(
            f"cannot reach AWS Secrets Manager ({type(exc).__name__})", path=path
        )
    if isinstance(exc, BotoCoreError):
        return BackendUnavailableError(f"AWS client error ({type(exc).__name__})", path=path)
    return SourceError(f"{type(exc).__name__} while reading from AWS", path=path)


def batch_entry_error(entry: Any, *, path: str) -> SourceError:
    """The ``SourceError`` for one item of a ``BatchGetSecretValue`` ``Errors`` list."""
    code = entry.get("ErrorCode") if isinstance(entry, dict) else None
    return error_for_code(str(code or ""), path=path)
