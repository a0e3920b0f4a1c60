"""Fetching specs from a source: one ``fetch_many`` per version stage, errors as outcomes."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from secrets_agent.sources.result import SecretData, SourceError

if TYPE_CHECKING:
    from secrets_agent.config.load import SecretSpec
    from secrets_agent.sources.base import SecretSource

__all__ = ["Outcome", "fetch_specs"]

log = logging.getLogger(__name__)

Outcome = tuple[SecretData | SourceError, float]  # fetched data or error, fetch seconds


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
        try:
            if stage is None:
                results = source.fetch_many(paths)
            else:
                results = source.fetch_many(paths, version_stage=stage)
        except Exception as exc:
            log.error("source %s failed: %s", source.name, type(exc).__name__)
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
