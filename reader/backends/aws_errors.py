"""botocore exceptions as ``_core`` failures, and those as the reader's errors.

``aws_failure`` reduces an exception to the plain facts (error code, message, HTTP status,
``Retry-After``; or the name of a client-side problem; or a transport failure) and lets
``_core.aws_answers`` classify them; the agent's AWS source uses the same function, so both
sides classify every answer alike. ``translate_aws_error`` turns the failure into the reader's
error (not found, access denied, unavailable, configuration). Messages carry the error code and
the backend's wording, never a secret value.
"""

from __future__ import annotations

from typing import Any

from .._core import aws_answers
from .._core.failures import Failure, FailureKind, parse_retry_after, transport_failure
from ..errors import ERROR_FOR_KIND, SecretManagerError


def error_fields(exc: BaseException) -> tuple[str, str, int]:
    """``(code, message, HTTP status)`` of a botocore ``ClientError`` (empty for others)."""
    response: Any = getattr(exc, "response", None) or {}
    error = response.get("Error") or {}
    status = (response.get("ResponseMetadata") or {}).get("HTTPStatusCode") or 0
    return str(error.get("Code") or ""), str(error.get("Message") or ""), int(status)


def retry_after_of(exc: BaseException) -> float | None:
    """Seconds from a ``Retry-After`` / ``x-amz-retry-after`` (milliseconds) header."""
    response: Any = getattr(exc, "response", None) or {}
    headers: Any = (response.get("ResponseMetadata") or {}).get("HTTPHeaders") or {}
    seconds = parse_retry_after(headers.get("retry-after"))
    if seconds is None:
        millis = parse_retry_after(headers.get("x-amz-retry-after"))
        seconds = None if millis is None else millis / 1000.0
    return seconds


def is_not_found(exc: BaseException) -> bool:
    """Whether ``exc`` is a ``ResourceNotFoundException`` ClientError."""
    return error_fields(exc)[0] == "ResourceNotFoundException"


def aws_failure(exc: BaseException) -> Failure | None:
    """The ``Failure`` behind a botocore exception; None for any other exception."""
    from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError

    if isinstance(exc, ClientError):
        code, message, status = error_fields(exc)
        return aws_answers.classify(code, message, status, retry_after=retry_after_of(exc))
    name = type(exc).__name__
    if isinstance(exc, ParamValidationError):
        # botocore's report names the parameter and the rule, never a value it was given.
        detail = " ".join(str(exc).split())[:300]
        return Failure(FailureKind.INVALID, f"invalid request: {detail}")
    if isinstance(exc, BotoCoreError):
        problem = aws_answers.classify_client_problem(name, str(exc)[:300])
        timed_out = "Timeout" in name
        return problem or transport_failure(f"{name} ({str(exc)[:300]})", timed_out=timed_out)
    return None


def unknown_region_failure(client: Any) -> Failure | None:
    """A configuration failure when ``client`` talks to AWS's own endpoint for a region that
    no AWS partition has (a mistyped ``eu-wset-1``); None otherwise.

    Called only after a transport failure: such a region's endpoint has no DNS name, which would
    otherwise look like an outage. A custom endpoint (moto, a VPC endpoint) is never judged.
    """
    meta = getattr(client, "meta", None)
    region = getattr(meta, "region_name", None)
    endpoint = str(getattr(meta, "endpoint_url", "") or "")
    if not region or f".{region}.amazonaws.com" not in endpoint:
        return None
    import boto3

    session = boto3.session.Session()
    for partition in session.get_available_partitions():
        if region in session.get_available_regions("secretsmanager", partition_name=partition):
            return None
    return Failure(
        FailureKind.INVALID,
        f"region {region!r} is not an AWS region with Secrets Manager (check the region)",
    )


def translate_aws_error(
    exc: BaseException, where: str, *, client: Any = None
) -> SecretManagerError:
    """Map a botocore exception to a ``SecretManagerError`` (not raised).

    With ``client``, a transport failure towards an unknown region is a configuration error.
    """
    if isinstance(exc, SecretManagerError):
        return exc
    failure = aws_failure(exc)
    if failure is None:
        return SecretManagerError(
            f"{where}: unexpected error ({type(exc).__name__})", backend="aws"
        )
    if failure.kind is FailureKind.UNAVAILABLE and client is not None:
        failure = unknown_region_failure(client) or failure
    reason = failure.reason
    message = error_fields(exc)[1][:200]
    if message:
        reason += f" ({message})"
    return ERROR_FOR_KIND[failure.kind.value](f"{where}: {reason}", backend="aws")


__all__ = [
    "aws_failure",
    "error_fields",
    "is_not_found",
    "retry_after_of",
    "translate_aws_error",
    "unknown_region_failure",
]
