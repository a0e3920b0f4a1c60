"""AWS error codes classified; a deleted secret apart from a malformed request."""

from __future__ import annotations

import pytest
from libs.secrets._core.aws_answers import classify, classify_client_problem
from libs.secrets._core.failures import FailureKind, parse_retry_after


@pytest.mark.parametrize(
    ("code", "message", "status", "kind"),
    [
        ("ResourceNotFoundException", "", 400, FailureKind.NOT_FOUND),
        (
            "InvalidRequestException",
            "...because it was marked for deletion.",
            400,
            FailureKind.NOT_FOUND,
        ),
        (
            "InvalidRequestException",
            "...a secret that's currently marked deleted.",
            400,
            FailureKind.NOT_FOUND,
        ),
        (
            "InvalidRequestException",
            "VersionId and VersionStage disagree",
            400,
            FailureKind.INVALID,
        ),
        ("InvalidParameterException", "", 400, FailureKind.INVALID),
        ("AccessDeniedException", "", 400, FailureKind.DENIED),
        ("DecryptionFailure", "", 400, FailureKind.DENIED),
        ("403", "<xml/>", 403, FailureKind.DENIED),
        ("ThrottlingException", "", 400, FailureKind.UNAVAILABLE),
        ("429", "", 429, FailureKind.UNAVAILABLE),
        ("InternalServiceError", "", 500, FailureKind.UNAVAILABLE),
        ("503", "", 503, FailureKind.UNAVAILABLE),
        ("404", "<html>", 404, FailureKind.INVALID),
        ("SomethingNew", "", 400, FailureKind.INVALID),
    ],
)
def test_codes(code: str, message: str, status: int, kind: FailureKind) -> None:
    failure = classify(code, message, status)
    assert failure.kind is kind
    assert message not in failure.reason or not message


def test_credential_codes_ask_for_fresh_credentials() -> None:
    failure = classify("ExpiredTokenException", "", 400)
    assert failure.kind is FailureKind.DENIED and failure.credentials
    assert not classify("AccessDeniedException").credentials


def test_throttling_keeps_retry_after() -> None:
    assert classify("ThrottlingException", retry_after=2.5).retry_after == 2.5


def test_client_problems_are_configuration() -> None:
    failure = classify_client_problem("NoRegionError", "You must specify a region.")
    assert failure is not None and failure.kind is FailureKind.INVALID
    assert classify_client_problem("EndpointConnectionError") is None


@pytest.mark.parametrize(
    ("value", "seconds"), [("3", 3.0), (" 1.5 ", 1.5), ("-1", None), ("soon", None), (None, None)]
)
def test_parse_retry_after(value: object, seconds: float | None) -> None:
    assert parse_retry_after(value) == seconds
