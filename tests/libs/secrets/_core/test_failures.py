"""Every kind of failure has its reader error and its agent error."""

from __future__ import annotations

from libs.secrets._core.failures import FailureKind, certificate_failure, transport_failure
from libs.secrets.errors import ERROR_FOR_KIND
from secrets_agent.sources.result import ERROR_CLASSES


def test_every_kind_maps_on_both_sides() -> None:
    assert set(ERROR_FOR_KIND) == {kind.value for kind in FailureKind}
    assert set(ERROR_CLASSES) == set(FailureKind)
    for kind in FailureKind:
        assert ERROR_CLASSES[kind].kind is kind


def test_no_answer_is_unavailable_and_a_bad_certificate_is_invalid() -> None:
    assert transport_failure("refused").kind is FailureKind.UNAVAILABLE
    assert transport_failure("slow", timed_out=True).detail == "timeout"
    assert certificate_failure("self-signed").kind is FailureKind.INVALID
