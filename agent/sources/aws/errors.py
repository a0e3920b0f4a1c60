"""botocore errors and per-secret ``BatchGetSecretValue`` errors as ``SourceError``s.

The classification is the reader's (``libs.secrets._core.aws_answers``, through
``libs.secrets.backends.aws_errors.aws_failure`` for botocore exceptions), so the agent and the
reader call the same answer the same thing; this module words the agent's messages and knows
which call-level errors mean "this endpoint cannot batch". Messages carry the AWS error code and
the secret's id, never AWS's message text or a body.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError
from libs.secrets._core import aws_answers
from libs.secrets._core.failures import Failure, FailureKind
from libs.secrets.backends.aws_errors import (
    aws_failure,
    error_fields,
    retry_after_of,
    unknown_region_failure,
)
from secrets_agent.sources.result import (
    AuthenticationError,
    SourceError,
    error_of,
)

__all__ = [
    "BATCH_UNSUPPORTED_CODES",
    "batch_entry_error",
    "client_error_code",
    "error_for_code",
    "map_aws_error",
    "retry_after_of",
    "source_error",
]

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

_CLIENT_PROBLEMS = {
    "NoCredentialsError": "no usable AWS credentials found",
    "PartialCredentialsError": "no usable AWS credentials found (partial credentials)",
    "NoRegionError": "no AWS region configured",
}


def client_error_code(exc: ClientError) -> str:
    """The AWS error code of a ``ClientError`` (``""`` when absent)."""
    return error_fields(exc)[0]


def source_error(failure: Failure, *, path: str | None) -> SourceError:
    """The agent's error for a classified AWS failure about ``path`` (or the whole call)."""
    what = f"secret {path!r}" if path else "the request"
    code, kind = failure.detail, failure.kind
    if failure.credentials:
        message = f"AWS rejected the credentials ({code})"
        return AuthenticationError(message, path=path)
    if kind is FailureKind.NOT_FOUND and code == "InvalidRequestException":
        message = f"AWS {what} is marked for deletion ({code})"
    elif kind is FailureKind.NOT_FOUND:
        message = f"AWS has no {what} ({code})"
    elif kind is FailureKind.DENIED:
        message = f"AWS denied {what} ({code})"
    elif kind is FailureKind.INVALID and failure.status == 0:
        message = _CLIENT_PROBLEMS.get(code) or f"AWS client configuration: {failure.reason}"
    elif kind is FailureKind.INVALID:
        message = f"AWS refused {what} as invalid ({code})"
    elif failure.status == 0 and failure.detail in ("timeout", "connection"):
        message = f"cannot reach AWS Secrets Manager ({failure.reason.split(' ')[0]})"
    elif failure.retry_after is not None or code in aws_answers.THROTTLING_CODES:
        message = f"AWS throttled {what} ({code})"
    else:
        message = f"AWS failed {what} ({code})"
    return error_of(failure, message, path=path)


def error_for_code(
    code: str, *, path: str | None, retry_after: float | None = None, message: str = ""
) -> SourceError:
    """The ``SourceError`` for an AWS error ``code`` (and its ``message``, used only to tell a
    deleted secret from a bad request) about ``path``."""
    return source_error(aws_answers.classify(code, message, retry_after=retry_after), path=path)


def map_aws_error(exc: BaseException, *, path: str | None, client: Any = None) -> SourceError:
    """Return the ``SourceError`` for an exception from a boto3 call.

    With ``client``, a transport failure towards an unknown region is a configuration error.
    """
    if isinstance(exc, SourceError):
        return exc
    failure = aws_failure(exc)
    if failure is None:
        return SourceError(f"{type(exc).__name__} while reading from AWS", path=path)
    if failure.kind is FailureKind.UNAVAILABLE and client is not None:
        failure = unknown_region_failure(client) or failure
    return source_error(failure, path=path)


def batch_entry_error(entry: Any, *, path: str) -> SourceError:
    """The ``SourceError`` for one item of a ``BatchGetSecretValue`` ``Errors`` list."""
    if not isinstance(entry, dict):
        return error_for_code("", path=path)
    code = str(entry.get("ErrorCode") or "")
    return error_for_code(code, path=path, message=str(entry.get("Message") or ""))
