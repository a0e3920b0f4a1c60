"""Prometheus text-format metrics for node_exporter's textfile collector.

``write_metrics`` renders every metric and replaces ``metrics_file`` atomically: a temp file
``.<name>.tmp-<random>`` in the same directory (``O_CREAT|O_EXCL|O_NOFOLLOW``, mode 0644 so the
exporter can read it; it holds no value), then ``os.replace``; the temp file is removed on any
failure. Per-secret series carry a ``target`` label (never a lease id: leased secrets report
their expiry and the time until replacement per target).
"""

from __future__ import annotations

import contextlib
import math
import os
import secrets
from collections.abc import Iterable, Mapping
from pathlib import Path

from secrets_agent import __version__
from secrets_agent.daemon.state import SecretState

METRICS_MODE = 0o644

# name -> (type, help)
_AGENT = {
    "secrets_agent_up": ("gauge", "1 while the agent is running and writing metrics."),
    "secrets_agent_healthy": ("gauge", "1 when no secret is failing to refresh."),
    "secrets_agent_build_info": ("gauge", "Agent version and backend; always 1."),
    "secrets_agent_start_time_seconds": ("gauge", "Unix time the agent started."),
    "secrets_agent_secrets": ("gauge", "Number of configured secrets."),
    "secrets_agent_reload_failed": (
        "gauge",
        "1 while the last config reload was rejected (the previous config is in force).",
    ),
}
_PER_SECRET = {
    "secrets_agent_last_success_timestamp_seconds": (
        "gauge",
        "Unix time of the last successful fetch.",
    ),
    "secrets_agent_secret_age_seconds": ("gauge", "Seconds since the last successful fetch."),
    "secrets_agent_last_change_timestamp_seconds": ("gauge", "Unix time the files last changed."),
    "secrets_agent_next_refresh_timestamp_seconds": ("gauge", "Unix time of the next attempt."),
    "secrets_agent_fetch_errors_total": ("counter", "Failed fetches since the agent started."),
    "secrets_agent_consecutive_failures": ("gauge", "Failed fetches since the last success."),
    "secrets_agent_fetch_duration_seconds": ("gauge", "Duration of the last fetch."),
    "secrets_agent_secret_missing": ("gauge", "1 when the backend reports the secret missing."),
    "secrets_agent_lease_expiry_timestamp_seconds": (
        "gauge",
        "Unix time the lease (or certificate) in force ends.",
    ),
    "secrets_agent_lease_replace_seconds": (
        "gauge",
        "Seconds until the lease (or certificate) is replaced by a new one.",
    ),
}


def escape_label(value: str) -> str:
    """Escape a label value for the text format: backslash, double quote, newline."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def format_value(value: float) -> str:
    """A sample value: integers without a decimal point, ``+Inf``/``-Inf``/``NaN`` spelled out."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return str(int(value)) if value.is_integer() and abs(value) < 2**53 else repr(value)


def _labels(labels: Mapping[str, str]) -> str:
    if not labels:
        return ""
    inner = ",".join(f'{k}="{escape_label(v)}"' for k, v in labels.items())
    return "{" + inner + "}"


def _secret_samples(state: SecretState, now: float) -> dict[str, float | None]:
    fetched = state.fetched_at
    return {
        "secrets_agent_last_success_timestamp_seconds": fetched,
        "secrets_agent_secret_age_seconds": None if fetched is None else max(0.0, now - fetched),
        "secrets_agent_last_change_timestamp_seconds": state.changed_at,
        "secrets_agent_next_refresh_timestamp_seconds": state.next_refresh_at,
        "secrets_agent_fetch_errors_total": state.errors_total,
        "secrets_agent_consecutive_failures": state.consecutive_failures,
        "secrets_agent_fetch_duration_seconds": state.fetch_seconds,
        "secrets_agent_secret_missing": int(state.missing),
        "secrets_agent_lease_expiry_timestamp_seconds": state.lease_expires_at,
        "secrets_agent_lease_replace_seconds": (
            None if state.replace_at is None else max(0.0, state.replace_at - now)
        ),
    }


def render_metrics(
    states: Iterable[SecretState], agent_info: Mapping[str, object], *, now: float
) -> str:
    """The whole exposition text (ends with a newline)."""
    state_list = list(states)
    series: dict[str, list[tuple[dict[str, str], float]]] = {name: [] for name in _AGENT}
    series["secrets_agent_up"].append(({}, 1))
    series["secrets_agent_healthy"].append(({}, int(bool(agent_info.get("healthy")))))
    build = {"version": str(agent_info.get("version", __version__))}
    build["backend"] = str(agent_info.get("backend", ""))
    series["secrets_agent_build_info"].append((build, 1))
    started = agent_info.get("started_at")
    if isinstance(started, int | float) and not isinstance(started, bool):
        series["secrets_agent_start_time_seconds"].append(({}, started))
    series["secrets_agent_secrets"].append(({}, len(state_list)))
    series["secrets_agent_reload_failed"].append(({}, int(bool(agent_info.get("reload_error")))))
    series.update({name: [] for name in _PER_SECRET})
    for state in state_list:
        for name, value in _secret_samples(state, now).items():
            if value is not None:
                series[name].append(({"target": state.target}, value))
    lines: list[str] = []
    for name, samples in series.items():
        kind, text = _AGENT.get(name) or _PER_SECRET[name]
        if not samples:
            continue
        lines.append(f"# HELP {name} {text}")
        lines.append(f"# TYPE {name} {kind}")
        lines.extend(f"{name}{_labels(lab)} {format_value(v)}" for lab, v in samples)
    return "\n".join(lines) + "\n"


def write_metrics(
    path: Path, states: Iterable[SecretState], agent_info: Mapping[str, object], *, now: float
) -> None:
    """Atomically replace ``path`` with the current metrics; raise ``OSError`` on failure."""
    data = render_metrics(states, agent_info, now=now).encode("utf-8")
    path = Path(path)
    temp = path.with_name(f".{path.name}.tmp-{secrets.token_hex(6)}")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(temp, flags, METRICS_MODE)
    try:
        try:
            os.fchmod(fd, METRICS_MODE)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)
        temp.replace(path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()
        raise
