"""The contract every backend meets (env, file, Vault dev server, moto through boto3)."""

from __future__ import annotations

import logging
import string

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from libs.secrets import (
    InvalidSecretKeyError,
    SecretBackendUnavailableError,
    SecretManagerError,
    SecretNotFoundError,
)

from .conftest import FakeTimer, Harness

KEYS = ["alpaca/api_key_id", "team/app/db/password", "svc/a-b.c@d+e=f_g"]
BAD_KEYS = [
    "",
    "/alpaca/api_key_id",
    "alpaca/",
    "alpaca//api_key_id",
    "../etc/passwd",
    "alpaca/../../etc/shadow",
    "alpaca/./api_key_id",
    "alpaca/.hidden",
    ".status.json",
    "alpaca\\api_key_id",
    "alpaca/api\x00key",
    "alpaca/api\nkey",
    "alpaca/api key",
    "alpaca/pässwort",
    "a" * 256,
    "/".join(["abcdefghij"] * 100),
]


def test_round_trip(harness: Harness) -> None:
    for number, key in enumerate(KEYS):
        harness.put(key, f"value-{number}")
    manager = harness.manager()
    for number, key in enumerate(KEYS):
        assert manager.get_secret(key) == f"value-{number}"
        assert manager.get_secret(key) == f"value-{number}"  # and again, from the cache
    assert manager.backend == harness.name


def test_unicode_value_exact(harness: Harness) -> None:
    value = "pässwörd ✓ 🔑 \u00a0 trailing space and newline \n"
    harness.put("alpaca/unicode", value)
    assert harness.manager().get_secret("alpaca/unicode") == value


def test_empty_value(harness: Harness) -> None:
    harness.put("alpaca/empty", "")
    harness.put("alpaca/other", "x")
    assert harness.manager().get_secret("alpaca/empty") == ""


def test_missing_key(harness: Harness) -> None:
    harness.put("alpaca/api_key_id", "x")
    manager = harness.manager()
    for key in ("alpaca/nope", "nothing/here"):
        with pytest.raises(SecretNotFoundError) as info:
            manager.get_secret(key)
        assert isinstance(info.value, KeyError)
        assert info.value.key == key
        assert info.value.backend == harness.name
        assert key in str(info.value)
        assert not str(info.value).startswith("'")  # not KeyError's quoted repr


# Secret ids in the AWS key syntax (tests/libs/secrets/test_aws_backend.py): refused elsewhere.
AWS_ONLY_KEYS = [
    "/alpaca/api_key_id",
    "/alpaca#api_key_id",
    "alpaca#api_key_id",
    "arn:aws:secretsmanager:us-east-1:123456789012:secret:alpaca-AbCdEf#api_key_id",
]


@pytest.mark.parametrize("key", BAD_KEYS, ids=lambda key: repr(key)[:24])
def test_bad_keys_rejected_before_io(harness: Harness, key: str) -> None:
    if harness.name == "aws" and key in AWS_ONLY_KEYS:
        pytest.skip("a valid aws key (a name starting with '/')")
    manager = harness.manager()
    before = harness.request_count()
    with pytest.raises(InvalidSecretKeyError):
        manager.get_secret(key)
    assert harness.request_count() == before


@pytest.mark.parametrize("key", AWS_ONLY_KEYS, ids=lambda key: repr(key)[:24])
def test_aws_secret_ids_rejected_by_other_backends(harness: Harness, key: str) -> None:
    if harness.name == "aws":
        pytest.skip("the aws backend takes them")
    manager = harness.manager()
    before = harness.request_count()
    with pytest.raises(InvalidSecretKeyError, match="only the aws backend takes one"):
        manager.get_secret(key)
    assert harness.request_count() == before


def test_non_string_key_rejected(harness: Harness) -> None:
    manager = harness.manager()
    for key in (None, 42, b"alpaca/api_key_id", ["alpaca"]):
        with pytest.raises(InvalidSecretKeyError):
            manager.get_secret(key)  # type: ignore[arg-type]


_SEGMENT_CHARS = string.ascii_letters + string.digits + "_.@+=-"


_BAD_CHARS = ["\\", "\x00", "\n", "\t", " ", "é", "\x7f", "~", "*", ":", "?", "\u2028"]
_BAD_SEGMENTS = ["", ".", "..", ".hidden", "..data"]


@st.composite
def _invalid_keys(draw: st.DrawFn) -> str:
    """Valid segments with one defect: a bad character, a bad segment, or a leading slash."""
    segments = draw(st.lists(st.text(_SEGMENT_CHARS, min_size=1, max_size=8), min_size=1))
    segments = [seg if not seg.startswith(".") else "x" + seg for seg in segments]
    kind = draw(st.sampled_from(["char", "segment", "absolute"]))
    if kind == "char":
        index = draw(st.integers(0, len(segments) - 1))
        at = draw(st.integers(0, len(segments[index])))
        char = draw(st.sampled_from(_BAD_CHARS))
        segments[index] = segments[index][:at] + char + segments[index][at:]
    elif kind == "segment":
        index = draw(st.integers(0, len(segments)))
        segments.insert(index, draw(st.sampled_from(_BAD_SEGMENTS)))
    else:
        return "/" + "/".join(segments)
    return "/".join(segments)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(key=_invalid_keys())
def test_bad_keys_property(harness: Harness, key: str) -> None:
    assume(not (harness.name == "aws" and key.startswith("/")))  # an AWS name with a leading /
    manager = harness.manager()
    with pytest.raises(InvalidSecretKeyError):
        manager.get_secret(key)


def test_fresh_hits_do_not_touch_the_backend(harness: Harness, timer: FakeTimer) -> None:
    harness.put("alpaca/api_key_id", "v1")
    manager = harness.manager(ttl_seconds=60, timer=timer)
    assert manager.get_secret("alpaca/api_key_id") == "v1"
    before = harness.request_count()
    for _ in range(50):
        assert manager.get_secret("alpaca/api_key_id") == "v1"
    assert harness.request_count() == before


def test_ttl_expiry_reads_the_new_value(harness: Harness, timer: FakeTimer) -> None:
    harness.put("alpaca/api_key_id", "v1")
    manager = harness.manager(ttl_seconds=60, timer=timer)
    assert manager.get_secret("alpaca/api_key_id") == "v1"
    harness.put("alpaca/api_key_id", "v2")
    timer.advance(59)
    if not harness.sees_changes_at_once:  # the file observer may already have seen it
        assert manager.get_secret("alpaca/api_key_id") == "v1"
    timer.advance(2)
    assert manager.get_secret("alpaca/api_key_id") == "v2"


def test_ttl_zero_always_reads_the_source(harness: Harness, timer: FakeTimer) -> None:
    harness.put("alpaca/api_key_id", "v1")
    manager = harness.manager(ttl_seconds=0, timer=timer)
    assert manager.get_secret("alpaca/api_key_id") == "v1"
    harness.put("alpaca/api_key_id", "v2")
    assert manager.get_secret("alpaca/api_key_id") == "v2"


def test_stale_if_error(
    harness: Harness, timer: FakeTimer, caplog: pytest.LogCaptureFixture
) -> None:
    if not harness.can_break:
        pytest.skip(f"the {harness.name} backend cannot be unavailable")
    harness.put("alpaca/api_key_id", "last-good")
    manager = harness.manager(ttl_seconds=60, timer=timer)
    assert manager.get_secret("alpaca/api_key_id") == "last-good"
    harness.break_backend()
    timer.advance(61)
    with caplog.at_level(logging.WARNING, logger="libs.secrets"):
        assert manager.get_secret("alpaca/api_key_id") == "last-good"
        assert manager.get_secret("alpaca/api_key_id") == "last-good"  # re-armed, no new warning
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "alpaca/api_key_id" in warnings[0].getMessage()
    assert "last-good" not in warnings[0].getMessage()


def test_unavailable_without_cache(harness: Harness) -> None:
    if not harness.can_break:
        pytest.skip(f"the {harness.name} backend cannot be unavailable")
    harness.put("alpaca/api_key_id", "x")
    manager = harness.manager()
    harness.break_backend()
    with pytest.raises(SecretBackendUnavailableError) as info:
        manager.get_secret("alpaca/api_key_id")
    assert info.value.key == "alpaca/api_key_id"
    assert info.value.backend == harness.name


def test_agent_file_fallback(harness: Harness) -> None:
    if not harness.has_agent_fallback:
        pytest.skip("only Vault and AWS fall back to the agent's files")
    (harness.fallback_dir / "alpaca").mkdir(parents=True)
    (harness.fallback_dir / "alpaca" / "api_key_id").write_text("from-agent-file\n")
    (harness.fallback_dir / "other_field").write_text("from-credential-name")
    manager = harness.manager()
    harness.break_backend()
    assert manager.get_secret("alpaca/api_key_id") == "from-agent-file\n"
    assert manager.get_secret("other/field") == "from-credential-name"
    with pytest.raises(SecretBackendUnavailableError):
        manager.get_secret("alpaca/not_on_disk")


def test_not_found_is_never_served_stale(harness: Harness, timer: FakeTimer) -> None:
    harness.put("alpaca/api_key_id", "old")
    harness.put("alpaca/keep", "k")
    manager = harness.manager(ttl_seconds=60, timer=timer)
    assert manager.get_secret("alpaca/api_key_id") == "old"
    harness.remove("alpaca/api_key_id")
    timer.advance(61)
    with pytest.raises(SecretNotFoundError):
        manager.get_secret("alpaca/api_key_id")


def test_context_manager_closes(harness: Harness) -> None:
    harness.put("alpaca/api_key_id", "x")
    with harness.manager() as manager:
        assert manager.get_secret("alpaca/api_key_id") == "x"
    manager.close()  # idempotent
    assert len(manager.cache) == 0


def test_value_never_logged_or_shown(
    harness: Harness, canary: str, timer: FakeTimer, caplog: pytest.LogCaptureFixture
) -> None:
    harness.put("alpaca/api_key_id", canary)  # (the test's own setup client may log it)
    harness.put("alpaca/other", "not-the-canary")
    caplog.set_level(logging.DEBUG)  # root and every library logger
    manager = harness.manager(ttl_seconds=10, timer=timer)
    texts: list[str] = [repr(manager), str(manager), repr(manager.cache)]
    assert manager.get_secret("alpaca/api_key_id") == canary
    assert manager.get_secret("alpaca/api_key_id") == canary
    for bad in ("alpaca/missing", "../x", "nothing/here"):
        try:
            manager.get_secret(bad)
        except SecretManagerError as exc:
            texts += [str(exc), repr(exc), repr(exc.__cause__), str(exc.__cause__)]
    if harness.can_break:
        harness.break_backend()
        timer.advance(11)
        assert manager.get_secret("alpaca/api_key_id") == canary  # stale, with a warning
        try:
            manager.get_secret("alpaca/never_read")
        except SecretManagerError as exc:
            texts += [str(exc), repr(exc), repr(exc.__cause__), str(exc.__cause__)]
    texts.append(repr(manager))
    for record in caplog.records:
        texts += [record.getMessage(), repr(record.args), str(record.exc_text)]
    texts.append(caplog.text)
    leaks = [text for text in texts if canary in text]
    assert leaks == []
