"""Helpers of the agent's sync loop: fetching specs from a source, grouping jobs, summaries."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from secrets_agent.daemon.state import SecretState
from secrets_agent.sources.result import SecretData, SourceError

if TYPE_CHECKING:
    from secrets_agent.config.load import SecretSpec
    from secrets_agent.sources.base import SecretSource

log = logging.getLogger(__name__)

# Members of a batched job that fall due within this fraction of their interval are fetched early,
# together with the one that triggered the job.
GROUP_WINDOW = 0.25


@dataclass
class SyncReport:
    """The outcome of one sync. ``failed`` maps target -> error text (never a value)."""

    ok: bool
    written: int = 0
    unchanged: int = 0
    failed: dict[str, str] = field(default_factory=dict)


Outcome = tuple[SecretData | SourceError, float]  # fetched data or error, fetch seconds


def fetch_specs(source: SecretSource, specs: Sequence[SecretSpec]) -> dict[str, Outcome]:
    """Fetch every spec's path (one ``fetch_many`` per version stage); target -> outcome."""
    by_stage: dict[str | None, list[SecretSpec]] = {}
    for spec in specs:
        by_stage.setdefault(spec.version_stage, []).append(spec)
    outcomes: dict[str, Outcome] = {}
    for stage, members in by_stage.items():
        paths = list(dict.fromkeys(s.path for s in members))
        started = time.monotonic()
        try:
            if stage is None:
                results = source.fetch_many(paths)
            else:
                results = source.fetch_many(paths, version_stage=stage)  # type: ignore[call-arg]
        except Exception as exc:  # a source must not raise; treat it as unavailable
            log.error("source %s failed: %s", getattr(source, "name", "?"), type(exc).__name__)
            results = {
                p: SourceError(f"source error ({type(exc).__name__})", path=p) for p in paths
            }
        seconds = time.monotonic() - started
        for spec in members:
            result = results.get(spec.path)
            if result is None:
                result = SourceError(
                    f"the source returned nothing for {spec.path!r}", path=spec.path
                )
            outcomes[spec.target] = (result, seconds)
    return outcomes


def build_groups(specs: Iterable[SecretSpec], batch_size: int) -> list[list[str]]:
    """Split specs into job groups (lists of targets): one per secret, or batches of
    ``batch_size`` distinct paths sharing a refresh interval and version stage."""
    if batch_size <= 1:
        return [[spec.target] for spec in specs]
    buckets: dict[tuple[float, str | None], list[SecretSpec]] = {}
    for spec in specs:
        buckets.setdefault((spec.refresh_interval, spec.version_stage), []).append(spec)
    groups: list[list[str]] = []
    for members in buckets.values():
        current: list[str] = []
        paths: set[str] = set()
        for spec in members:
            if spec.path not in paths and len(paths) >= batch_size:
                groups.append(current)
                current, paths = [], set()
            current.append(spec.target)
            paths.add(spec.path)
        if current:
            groups.append(current)
    return groups


def due_members(
    specs: Sequence[SecretSpec], states: Mapping[str, SecretState], now: float
) -> list[SecretSpec]:
    """The specs of a group to refresh at ``now``: those due, or due within the group window."""
    if len(specs) == 1:
        return list(specs)
    due = []
    for spec in specs:
        next_at = states[spec.target].next_refresh_at
        if next_at is None or next_at <= now + max(0.05, spec.refresh_interval * GROUP_WINDOW):
            due.append(spec)
    return due


def summary(states: Iterable[SecretState], now: float, *, reload_error: Sequence[str] = ()) -> str:
    """One line for systemd's STATUS=: ``3/4 secrets fresh, 1 failing, oldest 2m``, and
    ``; reload failed: <first problem> (+N more)`` while a rejected config is reported."""
    states = list(states)
    fresh = [s for s in states if s.fetched_at is not None and s.consecutive_failures == 0]
    failing = [s for s in states if s.consecutive_failures > 0]
    text = f"{len(fresh)}/{len(states)} secrets fresh"
    if failing:
        text += f", {len(failing)} failing"
    missing = sum(1 for s in states if s.missing)
    if missing:
        text += f", {missing} missing"
    ages = [now - s.fetched_at for s in states if s.fetched_at is not None]
    if ages:
        text += f", oldest {_age(max(ages))}"
    if reload_error:
        text += f"; reload failed: {reload_error[0]}"
        if len(reload_error) > 1:
            text += f" (+{len(reload_error) - 1} more)"
    return text


def _age(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    return f"{seconds // 3600}h"
