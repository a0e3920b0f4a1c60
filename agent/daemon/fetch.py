"""Fetching specs from a source: one ``fetch_many`` per version stage, errors as outcomes.

A secret the source confirmed without a read (``daemon.confirm``) has the outcome
``(UNCHANGED, None)``."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from secrets_agent.sources.result import SecretData, SourceError, Unchanged

if TYPE_CHECKING:
    from secrets_agent.config.load import SecretSpec
    from secrets_agent.sources.base import SecretSource

__all__ = ["Outcome", "fetch_one", "fetch_specs"]

log = logging.getLogger(__name__)

# fetched data, an error or a confirmation; the fetch's seconds (None: no fetch)
Outcome = tuple[SecretData | SourceError | Unchanged, float | None]


def fetch_specs(source: SecretSource, specs: Sequence[SecretSpec]) -> dict[str, Outcome]:
    """Fetch every spec's path (one ``fetch_many`` per version stage); target -> outcome.

    Never raises: a source that raises (it must not) fails every path of that call.
    """
    by_stage: dict[str | None, list[SecretSpec]] = {}
    for spec in specs:
        by_stage.setdefault(spec.version_stage, []).append(spec)
    outcomes: dict[str, Outcome] = {}
    for stage, members in by_stage.items():
        paths = list(dict.fromkeys(s.path for s in members))
        started = time.monotonic()
        results = _call(source, paths, stage)
        seconds = time.monotonic() - started
        for spec in members:
            outcomes[spec.target] = (_result(results, spec.path), seconds)
    return outcomes


def fetch_one(source: SecretSource, spec: SecretSpec) -> Outcome:
    """``fetch_specs`` of one spec (the path of every read of a one-path-a-call source)."""
    started = time.monotonic()
    results = _call(source, [spec.path], spec.version_stage)
    return _result(results, spec.path), time.monotonic() - started


def _call(
    source: SecretSource, paths: list[str], stage: str | None
) -> Mapping[str, SecretData | SourceError]:
    try:
        if stage is None:
            return source.fetch_many(paths)
        return source.fetch_many(paths, version_stage=stage)
    except Exception as exc:
        log.error("source %s failed: %s", source.name, type(exc).__name__)
        return {p: SourceError(f"source error ({type(exc).__name__})", path=p) for p in paths}


def _result(results: Mapping[str, SecretData | SourceError], path: str) -> SecretData | SourceError:
    result = results.get(path)
    if result is None:
        return SourceError(f"the source returned nothing for {path!r}", path=path)
    return result
