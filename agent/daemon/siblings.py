"""Secrets that share a directory, so that one listing confirms them together.

When the source confirms a due secret from a directory listing (``daemon.confirm``), the same
listing covers every other secret of that directory. ``SecretTable.take_along`` then hands out
those too (``sweep``): each is confirmed a little before it falls due (or read, if the listing
shows it changed), and the directory's secrets come due together again one interval later. One
listing serves a whole directory about once per interval, instead of once per tenth of an
interval (the most its evidence may age), and a change is picked up at the next sweep.

A directory is swept at most once per ``share`` of its shortest interval; a sweep costs
O(secrets of the directory), so its cost per refresh stays O(1). Not thread-safe:
``SecretTable`` calls it under its lock.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from secrets_agent.sources.base import split_path

if TYPE_CHECKING:
    from secrets_agent.config.load import SecretSpec

__all__ = ["Siblings"]


class Siblings:
    """KV secrets by directory, and when each directory was last swept."""

    def __init__(self, share: float) -> None:
        self._share = share
        self._members: dict[str, list[str]] = {}
        self._gap: dict[str, float] = {}
        self._swept: dict[str, float] = {}

    def configure(self, specs: Iterable[SecretSpec]) -> None:
        """Index ``specs`` (the table's secrets) by directory; forget earlier sweeps of
        directories that are gone."""
        members: dict[str, list[str]] = {}
        gap: dict[str, float] = {}
        for spec in specs:
            if spec.kind != "kv" or spec.version_stage is not None:
                continue
            directory = split_path(spec.path)[0]
            members.setdefault(directory, []).append(spec.target)
            gap[directory] = min(gap.get(directory, spec.refresh_interval), spec.refresh_interval)
        self._members = {d: m for d, m in members.items() if len(m) > 1}
        self._gap = {d: self._share * gap[d] for d in self._members}
        self._swept = {d: t for d, t in self._swept.items() if d in self._members}

    def sweep(self, directory: str, now: float) -> Sequence[str]:
        """The secrets of ``directory`` to take along now (none if it was swept less than a
        ``share`` of its shortest interval ago)."""
        members = self._members.get(directory)
        if not members or now - self._swept.get(directory, float("-inf")) < self._gap[directory]:
            return ()
        self._swept[directory] = now
        return members
