"""Publishing the agent's state: ``.status.json``, the metrics file, ``STATUS=`` and ``READY=1``.

Publishing is coalesced. A refresh only changes the table (which remembers what changed); the
runner's heartbeat calls ``flush`` about once a second, and ``flush(force=True)`` runs at once
for the first sync, READY, a reload and stop. A flush takes the changed states from the table
(O(changes) under its lock), keeps one cached JSON line per secret, and writes the files and the
``STATUS=`` line outside every lock. A flush that took long (tens of thousands of secrets) spaces
the next one out, so publishing never takes more than ``MAX_DUTY`` of a core.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from secrets_agent import __version__
from secrets_agent.daemon.state import SecretState
from secrets_agent.daemon.table import SecretTable
from secrets_agent.notify import Notifier

if TYPE_CHECKING:
    from secrets_agent.metrics import MetricsLines
    from secrets_agent.writer.writer import SecretWriter

__all__ = ["PUBLISH_INTERVAL", "Publisher", "summary"]

log = logging.getLogger(__name__)

PUBLISH_INTERVAL = 1.0
MAX_DUTY = 0.01  # publishing may use at most this share of the time between flushes


class Publisher:
    """Writes what the table says; see the module docstring."""

    def __init__(
        self,
        table: SecretTable,
        notifier: Notifier,
        *,
        clock: Callable[[], float],
        backend: str,
        started_at: float,
        config: str | None = None,
        templates: Callable[[], list[dict[str, object]]] | None = None,
    ) -> None:
        self._table = table
        self._templates = templates  # the entries of template outputs (daemon.templates)
        self._notifier = notifier
        self._clock = clock
        self._lock = threading.Lock()
        self._order: list[str] = []
        self._states: dict[str, SecretState] = {}
        self._lines: dict[str, str] = {}
        self._metric_lines: MetricsLines | None = None
        self._writer: SecretWriter | None = None
        self._metrics_file: Path | None = None
        self._backend = backend
        self._started_at = started_at
        self._config = config  # the agent's identity (secrets_agent.status.config_identity)
        self._reload_error: list[str] = []
        self._announce = False
        self._ready_sent = False
        self._next_at = 0.0  # clock time before which a non-forced flush waits

    def set_outputs(
        self, writer: SecretWriter | None, metrics_file: Path | None, backend: str
    ) -> None:
        """Where to write: ``writer`` None while ``output_dir`` is not prepared (then only
        ``STATUS=`` is sent)."""
        with self._lock:
            self._writer, self._metrics_file, self._backend = writer, metrics_file, backend

    def set_reload_error(self, problems: Sequence[str]) -> None:
        """The problems of a rejected config (empty: the last reload succeeded)."""
        with self._lock:
            self._reload_error = [" ".join(str(p).split()) for p in problems]

    def announce_ready(self) -> None:
        """Send ``READY=1`` with the first flush that finds every secret in place."""
        self._announce = True

    def ready_due(self) -> bool:
        """True if READY=1 is owed and every secret is in place (then flush at once)."""
        return self._announce and not self._ready_sent and self._table.ready()

    def flush(self, *, force: bool = False) -> None:
        """Publish if something changed (always with ``force``), at most about once a second."""
        idle = not self._table.has_changes() or self._clock() < self._next_at
        if not force and idle and not self.ready_due():
            return
        with self._lock:
            started = time.monotonic()
            self._publish()
            cost = time.monotonic() - started  # CPU-bound: real time, whatever the clock
            self._next_at = self._clock() + max(PUBLISH_INTERVAL, cost / MAX_DUTY) - 0.01

    def _publish(self) -> None:
        now = self._clock()
        order, changed = self._table.changes()
        if order is not None:
            self._order = order
            keep = set(order)
            for cache in (self._states, self._lines):
                for target in [t for t in cache if t not in keep]:
                    del cache[target]
        self._states.update(changed)
        for target in changed:
            self._lines.pop(target, None)
        states = [self._states[t] for t in self._order if t in self._states]
        templates = self._templates() if self._templates is not None else []
        ready = self._table.ready()
        info: dict[str, object] = {
            "pid": os.getpid(),
            "version": __version__,
            "started_at": self._started_at,
            "backend": self._backend,
            "config": self._config,
            "healthy": all(s.consecutive_failures == 0 for s in states)
            and not any(t.get("consecutive_failures") for t in templates),
            "ready": ready,
            "secrets": len(states),
            "reload_error": list(self._reload_error) or None,
        }
        line = summary(states, now, reload_error=self._reload_error)
        if self._writer is not None:
            self._write_files(self._writer, states, info, now, templates)
        if self._announce and not self._ready_sent and ready:
            self._ready_sent = True
            self._notifier.ready(line)
            log.info("all secrets in place: %s", line)
        else:
            self._notifier.status(line)

    def _write_files(
        self,
        writer: SecretWriter,
        states: list[SecretState],
        info: dict[str, object],
        now: float,
        templates: list[dict[str, object]],
    ) -> None:
        from secrets_agent.status import entry_json, status_text, write_status_text

        try:
            lines = self._lines
            for state in states:
                if state.target not in lines:
                    lines[state.target] = entry_json(state)
            entries = (lines[s.target] for s in states)
            text = status_text(entries, info, now=now, templates=templates)
            write_status_text(writer, text)
        except Exception as exc:
            log.warning("could not write the status file: %s", exc)
        if self._metrics_file is not None:
            try:
                from secrets_agent.metrics import MetricsLines, write_metrics

                if self._metric_lines is None:
                    self._metric_lines = MetricsLines()
                write_metrics(self._metrics_file, states, info, now=now, cache=self._metric_lines)
            except Exception as exc:
                log.warning("could not write the metrics file: %s", exc)


def summary(states: Sequence[SecretState], now: float, *, reload_error: Sequence[str] = ()) -> str:
    """One line for systemd's STATUS=: ``3/4 secrets fresh, 1 failing, oldest 2m``, and
    ``; reload failed: <first problem> (+N more)`` while a rejected config is reported."""
    fresh = failing = missing = 0
    oldest: float | None = None
    for s in states:
        if s.consecutive_failures > 0:
            failing += 1
        elif s.fetched_at is not None:
            fresh += 1
        if s.missing:
            missing += 1
        if s.fetched_at is not None and (oldest is None or s.fetched_at < oldest):
            oldest = s.fetched_at
    text = f"{fresh}/{len(states)} secrets fresh"
    if failing:
        text += f", {failing} failing"
    if missing:
        text += f", {missing} missing"
    if oldest is not None:
        text += f", oldest {_age(now - oldest)}"
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
