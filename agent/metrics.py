"""Prometheus text-format metrics for node_exporter's textfile collector.

``write_metrics`` renders every metric and replaces ``metrics_file`` atomically: a temp file
``.<name>.tmp-<random>`` in the same directory (``O_CREAT|O_EXCL|O_NOFOLLOW``, mode 0644 so the
exporter can read it; it holds no value), then ``os.replace``; the temp file is removed on any
failure. Per-secret series carry a ``target`` label.
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
    "secrets_agent_confirmed_total": (
        "counter",
        "Refreshes that confirmed a secret unchanged without reading it.",
    ),
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


_AGE = "secrets_agent_secret_age_seconds"
_REPLACE = "secrets_agent_lease_replace_seconds"
# The per-secret metrics whose samples depend on the state only (not on ``now``), in order.
_STATIC = tuple(name for name in _PER_SECRET if name not in (_AGE, _REPLACE))


def _static_samples(state: SecretState) -> tuple[float | None, ...]:
    return (
        state.fetched_at,
        state.changed_at,
        state.next_refresh_at,
        state.errors_total,
        state.consecutive_failures,
        state.fetch_seconds,
        int(state.missing),
        state.lease_expires_at,
    )


class MetricsLines:
    """Per-secret sample lines, kept until the owner says the secret changed (``forget``).

    The daemon's table names the secrets whose state changed since the last flush; the
    publisher passes those names to ``forget``, so a flush costs a join of cached strings plus
    one age line per secret, not a rendering of every sample. No state object is kept: one
    the table replaced is freed at once.
    """

    def __init__(self) -> None:
        self._cache: dict[str, tuple[str, tuple[str | None, ...]]] = {}

    def of(self, state: SecretState) -> tuple[str, tuple[str | None, ...]]:
        """The state's label text and one line (or None) per metric of ``_STATIC``."""
        hit = self._cache.get(state.target)
        if hit is not None:
            return hit
        label = _labels({"target": state.target})
        lines = tuple(
            None if value is None else f"{name}{label} {format_value(value)}"
            for name, value in zip(_STATIC, _static_samples(state), strict=True)
        )
        self._cache[state.target] = (label, lines)
        return label, lines

    def forget(self, targets: Iterable[str]) -> None:
        """Render these secrets again at the next flush (their state changed)."""
        for target in targets:
            self._cache.pop(target, None)

    def __len__(self) -> int:
        return len(self._cache)

    def retain(self, targets: Iterable[str]) -> None:
        """Forget the lines of every target not in ``targets``."""
        keep = set(targets)
        for target in [t for t in self._cache if t not in keep]:
            del self._cache[target]


def render_metrics(
    states: Iterable[SecretState],
    agent_info: Mapping[str, object],
    *,
    now: float,
    cache: MetricsLines | None = None,
) -> str:
    """The whole exposition text (ends with a newline). ``cache`` keeps per-secret lines
    between calls (the publisher passes one)."""
    state_list = list(states)
    lines_cache = cache if cache is not None else MetricsLines()
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
    confirmed = agent_info.get("confirmed_total")
    if isinstance(confirmed, int) and not isinstance(confirmed, bool):
        series["secrets_agent_confirmed_total"].append(({}, confirmed))
    series["secrets_agent_reload_failed"].append(({}, int(bool(agent_info.get("reload_error")))))
    out: list[str] = []
    for name, samples in series.items():
        kind, text = _AGENT[name]
        if samples:
            out.append(f"# HELP {name} {text}\n# TYPE {name} {kind}")
            out.extend(f"{name}{_labels(lab)} {format_value(v)}" for lab, v in samples)
    rendered = [lines_cache.of(state) for state in state_list]
    columns = (
        dict(zip(_STATIC, zip(*(lines for _, lines in rendered), strict=True), strict=True))
        if rendered
        else {}
    )
    for name in _PER_SECRET:
        kind, text = _PER_SECRET[name]
        if name == _AGE:  # whole seconds: the samples that move with ``now``
            block = [
                f"{name}{label} {int(max(0.0, now - state.fetched_at))}"
                for state, (label, _) in zip(state_list, rendered, strict=True)
                if state.fetched_at is not None
            ]
        elif name == _REPLACE:
            block = [
                f"{name}{label} {int(max(0.0, state.replace_at - now))}"
                for state, (label, _) in zip(state_list, rendered, strict=True)
                if state.replace_at is not None
            ]
        else:
            block = [line for line in columns.get(name, ()) if line is not None]
        if block:
            out.append(f"# HELP {name} {text}\n# TYPE {name} {kind}")
            out.extend(block)
    if cache is not None and len(cache) != len(state_list):
        cache.retain(state.target for state in state_list)
    return "\n".join(out) + "\n"


def write_metrics(
    path: Path,
    states: Iterable[SecretState],
    agent_info: Mapping[str, object],
    *,
    now: float,
    cache: MetricsLines | None = None,
) -> None:
    """Atomically replace ``path`` with the current metrics; raise ``OSError`` on failure."""
    data = render_metrics(states, agent_info, now=now, cache=cache).encode("utf-8")
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
