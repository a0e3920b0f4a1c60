"""Vault answers classified: statuses, login answers, error texts."""

from __future__ import annotations

import pytest
from libs.secrets._core.failures import FailureKind
from libs.secrets._core.vault_answers import classify, error_text, says_invalid_token


@pytest.mark.parametrize(
    ("status", "login", "kind", "credentials"),
    [
        (403, False, FailureKind.DENIED, True),
        (401, False, FailureKind.DENIED, True),
        (403, True, FailureKind.DENIED, False),
        (400, True, FailureKind.DENIED, False),
        (404, False, FailureKind.NOT_FOUND, False),
        (404, True, FailureKind.INVALID, False),
        (400, False, FailureKind.INVALID, False),
        (405, False, FailureKind.INVALID, False),
        (412, False, FailureKind.UNAVAILABLE, False),
        (429, False, FailureKind.UNAVAILABLE, False),
        (473, False, FailureKind.UNAVAILABLE, False),
        (503, False, FailureKind.UNAVAILABLE, False),
        (0, False, FailureKind.UNAVAILABLE, False),
    ],
)
def test_statuses(status: int, login: bool, kind: FailureKind, credentials: bool) -> None:
    failure = classify(status, ["x"], login=login)
    assert (failure.kind, failure.credentials) == (kind, credentials)
    assert str(status) in failure.reason


def test_retry_after_is_kept_for_429() -> None:
    assert classify(429, [], retry_after=3.0).retry_after == 3.0


def test_a_kv_upgrade_is_transient() -> None:
    failure = classify(400, ["Upgrading from non-versioned to versioned data. This backend..."])
    assert failure.kind is FailureKind.UNAVAILABLE


def test_error_text_flattens_go_multierrors_and_is_bounded() -> None:
    text = error_text(["2 errors occurred:\n\t* permission denied\n\t* invalid token\n\n"])
    assert text == "permission denied invalid token"
    assert says_invalid_token(["1 error occurred:\n\t* invalid token\n\n"])
    assert not says_invalid_token(["permission denied"])
    assert len(error_text(["y" * 1000])) == 200
    assert error_text(None) == error_text("not a list") == ""
