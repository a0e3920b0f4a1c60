"""AWS Secrets Manager's error answers, classified: error code, message and HTTP status.

Both the reader's AWS backend and the agent's AWS source reduce a botocore error (or one entry
of ``BatchGetSecretValue``'s ``Errors``) to ``(code, message, status)`` and call ``classify``;
client-side problems (no region, no credentials, a malformed endpoint) go through
``classify_client_problem``. The choices, from the Secrets Manager API reference, botocore's
retry rules and moto's and AWS's real answers:

* ``ResourceNotFoundException`` is ``NOT_FOUND``; with a version stage asked for, AWS gives the
  same code for "no version carries that label", so the caller words the two apart.
* ``InvalidRequestException`` is ``NOT_FOUND`` when the secret is marked for deletion (AWS:
  "...because it was marked for deletion"; moto: "...currently marked deleted"): a deleted
  secret is missing until restored. Any other ``InvalidRequestException`` (a VersionId and a
  VersionStage that disagree, a rotation in progress) and ``InvalidParameterException`` are
  ``INVALID``: the request is wrong, not the secret missing.
* ``AccessDeniedException``, ``DecryptionFailure`` (KMS refused the key) and HTTP 401/403 are
  ``DENIED``; the credential codes (expired, unrecognised, bad signature) are ``DENIED`` with
  ``credentials=True`` since fresh credentials from the provider chain can cure them.
* Throttling codes, ``InternalServiceError`` and friends, HTTP 429 and 5xx are ``UNAVAILABLE``.
* Anything else (an unknown code on a 4xx, a bare 404 from an endpoint that is not Secrets
  Manager) is ``INVALID``.

Reasons carry the code only: AWS's message can echo request parameters, and is kept out.
"""

from __future__ import annotations

from dataclasses import replace

from .failures import Failure, FailureKind

THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "LimitExceededException",
        "SlowDown",
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
        "PriorRequestNotComplete",
    }
)
DENIED_CODES = frozenset({"AccessDeniedException", "AccessDenied", "DecryptionFailure"})
CREDENTIAL_CODES = frozenset(
    {
        "UnrecognizedClientException",
        "InvalidSignatureException",
        "SignatureDoesNotMatch",
        "IncompleteSignature",
        "InvalidClientTokenId",
        "ExpiredTokenException",
        "ExpiredToken",
        "MissingAuthenticationToken",
    }
)
# botocore's client-side exceptions that mean the configuration is unusable.
CONFIGURATION_PROBLEMS = frozenset(
    {
        "NoRegionError",
        "InvalidRegionError",
        "NoCredentialsError",
        "PartialCredentialsError",
        "ProfileNotFound",
        "InvalidEndpointConfigurationError",
        "ParamValidationError",
    }
)


def is_deleted(code: str, message: str) -> bool:
    """Whether an answer says the secret is marked for deletion."""
    return code == "InvalidRequestException" and "delet" in message.lower()


def classify(
    code: str, message: str = "", status: int = 0, *, retry_after: float | None = None
) -> Failure:
    """The ``Failure`` an AWS error ``code`` (with its ``message`` and HTTP ``status``) means."""
    failure = _classify(code, message, status, retry_after)
    return replace(failure, status=status, detail=code)


def _classify(code: str, message: str, status: int, retry_after: float | None) -> Failure:
    shown = code or str(status or "unknown error")
    if code == "ResourceNotFoundException":
        return Failure(FailureKind.NOT_FOUND, shown)
    if code == "InvalidRequestException":
        if is_deleted(code, message):
            return Failure(FailureKind.NOT_FOUND, f"{shown}: marked for deletion")
        return Failure(FailureKind.INVALID, shown)
    if code in DENIED_CODES:
        return Failure(FailureKind.DENIED, shown)
    if code in CREDENTIAL_CODES:
        return Failure(FailureKind.DENIED, shown, credentials=True)
    if code in THROTTLING_CODES or status == 429:
        return Failure(FailureKind.UNAVAILABLE, shown, retry_after=retry_after)
    if code in UNAVAILABLE_CODES or status >= 500 or (code.isdigit() and int(code) >= 500):
        return Failure(FailureKind.UNAVAILABLE, shown)
    if status in (401, 403) or code in ("401", "403"):
        return Failure(FailureKind.DENIED, shown)
    return Failure(FailureKind.INVALID, shown)


def classify_client_problem(name: str, detail: str = "") -> Failure | None:
    """The ``Failure`` of a botocore client-side exception named ``name``; None if not one."""
    if name in CONFIGURATION_PROBLEMS:
        reason = f"{name}: {detail}" if detail else name
        return Failure(FailureKind.INVALID, reason, detail=name)
    return None


__all__ = [
    "CONFIGURATION_PROBLEMS",
    "CREDENTIAL_CODES",
    "DENIED_CODES",
    "THROTTLING_CODES",
    "UNAVAILABLE_CODES",
    "classify",
    "classify_client_problem",
    "is_deleted",
]
