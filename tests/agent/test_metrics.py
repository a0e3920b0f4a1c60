"""Prometheus textfile metrics: format, escaping, atomic replacement, never a value."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

import pytest
from secrets_agent.daemon.state import SecretState
from secrets_agent.metrics import escape_label, format_value, render_metrics, write_metrics

NOW = 1_700_000_000.0
INFO = {"pid": 1, "started_at": NOW - 100, "backend": "aws", "healthy": True, "version": "0.1.0"}

SAMPLE = re.compile(
    r'^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>(?:[a-zA-Z_]\w*="(?:[^"\\\n]|\\[\\"n])*",?)*)\})?'
    r" (?P<value>[-+]?(?:\d+(?:\.\d*)?(?:e[-+]?\d+)?|Inf|NaN))$"
)


def parse(text: str) -> dict[tuple[str, str], str]:
    """A strict reader of the text format: every line is HELP, TYPE or a valid sample."""
    samples: dict[tuple[str, str], str] = {}
    typed: set[str] = set()
    for line in text.splitlines():
        if line.startswith("# HELP "):
            continue
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            assert kind in {"gauge", "counter"} and name not in typed
            typed.add(name)
            continue
        match = SAMPLE.match(line)
        assert match, f"bad sample line: {line!r}"
        assert match["name"] in typed
        samples[(match["name"], match["labels"] or "")] = match["value"]
    return samples


def states() -> list[SecretState]:
    return [
        SecretState(path="alpaca", target="alpaca", fetched_at=NOW - 30, changed_at=NOW - 90,
                    next_refresh_at=NOW + 270, fetch_seconds=0.25, errors_total=2),
        SecretState(path="db", target='we"ird\\name\nx', consecutive_failures=4, errors_total=4,
                    missing=True),
    ]  # fmt: skip


def test_render_metrics() -> None:
    text = render_metrics(states(), INFO, now=NOW)
    assert text.endswith("\n")
    samples = parse(text)
    assert samples[("secrets_agent_up", "")] == "1"
    assert samples[("secrets_agent_healthy", "")] == "1"
    assert samples[("secrets_agent_build_info", 'version="0.1.0",backend="aws"')] == "1"
    assert samples[("secrets_agent_start_time_seconds", "")] == str(int(NOW - 100))
    assert samples[("secrets_agent_secrets", "")] == "2"
    a = 'target="alpaca"'
    assert samples[("secrets_agent_last_success_timestamp_seconds", a)] == str(int(NOW - 30))
    assert samples[("secrets_agent_secret_age_seconds", a)] == "30"
    assert samples[("secrets_agent_fetch_duration_seconds", a)] == "0.25"
    assert samples[("secrets_agent_fetch_errors_total", a)] == "2"
    assert samples[("secrets_agent_secret_missing", a)] == "0"
    w = 'target="we\\"ird\\\\name\\nx"'
    assert samples[("secrets_agent_secret_missing", w)] == "1"
    assert samples[("secrets_agent_consecutive_failures", w)] == "4"
    assert ("secrets_agent_secret_age_seconds", w) not in samples  # never fetched: no sample
    assert "# TYPE secrets_agent_fetch_errors_total counter" in text


def test_unhealthy_and_empty() -> None:
    samples = parse(render_metrics([], {"healthy": False}, now=NOW))
    assert samples[("secrets_agent_healthy", "")] == "0"
    assert samples[("secrets_agent_secrets", "")] == "0"
    assert samples[("secrets_agent_reload_failed", "")] == "0"
    failed = parse(render_metrics([], {"reload_error": ["agent.x: unknown key"]}, now=NOW))
    assert failed[("secrets_agent_reload_failed", "")] == "1"


@pytest.mark.parametrize(
    ("value", "text"),
    [(1, "1"), (True, "1"), (2.0, "2"), (0.125, "0.125"), (float("inf"), "+Inf"),
     (float("-inf"), "-Inf"), (float("nan"), "NaN"), (1e300, "1e+300")],
)  # fmt: skip
def test_format_value(value: float, text: str) -> None:
    assert format_value(value) == text


def test_escape_label() -> None:
    assert escape_label('a\\b"c\nd') == 'a\\\\b\\"c\\nd'


def test_write_metrics_atomic_and_readable(tmp_path: Path, canary: str) -> None:
    path = tmp_path / "secrets_agent.prom"
    path.write_text("old")
    old_inode = path.stat().st_ino
    write_metrics(path, states(), INFO, now=NOW)
    assert path.stat().st_ino != old_inode
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert parse(path.read_text())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["secrets_agent.prom"]
    assert canary not in path.read_text()


def test_write_metrics_replaces_symlink_without_following(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("keep")
    path = tmp_path / "m.prom"
    path.symlink_to(victim)
    write_metrics(path, states(), INFO, now=NOW)
    assert victim.read_text() == "keep"
    assert not path.is_symlink()


def test_write_metrics_failure_leaves_no_temp(tmp_path: Path) -> None:
    path = tmp_path / "m.prom"
    path.mkdir()  # a directory in the way: the rename fails
    with pytest.raises(OSError):
        write_metrics(path, states(), INFO, now=NOW)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.prom"]
    with pytest.raises(FileNotFoundError):
        write_metrics(tmp_path / "missing" / "m.prom", states(), INFO, now=NOW)
    assert os.listdir(tmp_path) == ["m.prom"]


def test_cached_lines_render_what_a_fresh_rendering_does() -> None:
    from dataclasses import replace

    from secrets_agent.metrics import MetricsLines

    cache = MetricsLines()
    first = states()
    assert render_metrics(first, INFO, now=NOW, cache=cache) == render_metrics(first, INFO, now=NOW)
    # A changed secret is forgotten by name; a removed one leaves the cache; time moves on.
    second = [replace(first[0], fetched_at=NOW + 5, errors_total=3)]
    later = NOW + 60
    cache.forget([second[0].target])
    cached = render_metrics(second, INFO, now=later, cache=cache)
    assert cached == render_metrics(second, INFO, now=later)
    assert len(cache) == 1
    assert parse(cached)[("secrets_agent_secret_age_seconds", 'target="alpaca"')] == "55"
