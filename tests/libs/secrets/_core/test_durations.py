"""Durations as written in the config and the reader's settings, and as shown in `status`."""

from __future__ import annotations

import pytest
from libs.secrets._core.durations import format_duration, parse_duration


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (30, 30.0),
        (1.5, 1.5),
        (0, 0.0),
        ("30", 30.0),
        ("2.5", 2.5),
        ("30s", 30.0),
        ("5m", 300.0),
        ("1h", 3600.0),
        ("1h30m", 5400.0),
        ("1d2h3m4s", 93784.0),
        ("250ms", 0.25),
        ("1.5h", 5400.0),
        (" 5m ", 300.0),
    ],
)
def test_parse_duration_accepts(value: object, seconds: float) -> None:
    assert parse_duration(value) == pytest.approx(seconds)


@pytest.mark.parametrize(
    "value",
    ["", "m", "5x", "5m1h", "1s2s", "-5s", "1h 30m", "5 m", "1e3", None, True, [1], "nan"],
)
def test_parse_duration_rejects(value: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(value)


@pytest.mark.parametrize("value", [-1, float("nan"), float("inf")])
def test_parse_duration_rejects_numbers(value: float) -> None:
    with pytest.raises(ValueError):
        parse_duration(value)


def test_parse_duration_message_does_not_repeat_value() -> None:
    with pytest.raises(ValueError) as info:
        parse_duration("hunter2-not-a-duration")
    assert "hunter2" not in str(info.value)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (0.25, "0.25s"),
        (45, "45s"),
        (192, "3m12s"),
        (7500, "2h05m"),
        (273600, "3d04h"),
        (-12, "-12s"),
    ],
)
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


def test_one_implementation_for_agent_and_reader() -> None:
    import secrets_agent.durations as agent_durations
    from libs.secrets.config import resolve_ttl

    assert agent_durations.parse_duration is parse_duration
    assert agent_durations.format_duration is format_duration
    assert resolve_ttl(None, {"SECRET_CACHE_TTL": "5m"}) == 300.0
