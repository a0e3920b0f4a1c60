"""Publishing the agent's state: ``.status.json``, the metrics file, ``STATUS=`` and ``READY=1``.

Publishing is coalesced. A refresh only changes the table (which remembers what changed, and
whether any of it was notable); the runner's heartbeat calls ``flush`` about once a second, and
``flush(force=True)`` runs at once for the first sync, READY, a reload and stop. A flush takes
the states and the names of the changed ones from the table (one list of references under its
lock), keeps one cached JSON line per secret (no state: a state the table replaces is freed at
once), and writes the files and the ``STATUS=`` line outside every lock.

A flush costs O(secrets), so how often it may run depends on what it costs (CPU time of the
flushing thread):

* a notable change (a failure, a recovery, a new value or lease, a reload: ``state.
  notable_change``) is published within a second, but flushing never takes more than
  ``MAX_DUTY`` (1 %) of a core: 10,000 secrets, ~50 ms a flush, at most every 5 s;
* routine changes (an unchanged refresh moves only ``fetched_at`` and ``next_refresh_at``) wait
  until flushing them costs no more than ``ROUTINE_DUTY`` (0.1 %) of a core, or a tenth of the
  shortest refresh interval has passed, whichever comes first, so the status file never lags a
  secret's schedule by more than a tenth of its interval (10,000 secrets at the 5-minute default:
  every 30 s; a few hundred: every second as before).
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
ROUTINE_DUTY = 0.001  # ... and this share while only routine changes wait
ROUTINE_LAG = 0.1  # of the shortest refresh interval: how long routine changes may wait at most


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
        templates_ready: Callable[[], bool] | None = None,
        cost_clock: Callable[[], float] = time.thread_time,
    ) -> None:
        self._table = table
        self._cost_clock = cost_clock  # CPU seconds of the flushing thread
        self._templates = templates  # the entries of template outputs (daemon.templates)
        self._templates_ready = templates_ready  # every template output written once
        self._notifier = notifier
        self._clock = clock
        self._lock = threading.Lock()
        self._lines: dict[str, str] = {}  # target -> its status line, until its state changes
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
        self._next_routine_at = 0.0  # ... and before which routine changes alone wait

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
        """Send ``READY=1`` with the first flush that finds every secret and template output in
        place."""
        self._announce = True

    def ready_due(self) -> bool:
        """True if READY=1 is owed and everything is in place (then flush at once)."""
        return self._announce and not self._ready_sent and self._in_place()

    def _in_place(self) -> bool:
        """Every secret and every template output has been in place at least once."""
        return self._table.ready() and (self._templates_ready is None or self._templates_ready())

    def flush(self, *, force: bool = False) -> None:
        """Publish what changed (always with ``force``), as often as the module docstring
        says."""
        if not force and not self.ready_due():
            if not self._table.has_changes():
                return
            notable = self._table.has_notable_changes()
            if self._clock() < (self._next_at if notable else self._next_routine_at):
                return
        with self._lock:
            started = self._cost_clock()
            self._publish()
            cost = self._cost_clock() - started
            now = self._clock()
            gap = max(PUBLISH_INTERVAL, cost / MAX_DUTY)
            lag = ROUTINE_LAG * self._table.shortest_interval()
            routine = max(gap, min(cost / ROUTINE_DUTY, lag))
            self._next_at = now + gap - 0.01
            self._next_routine_at = now + routine - 0.01

    def _publish(self) -> None:
        now = self._clock()
        states, changed, reordered = self._table.changes()
        if reordered:
            keep = {s.target for s in states}
            for target in [t for t in self._lines if t not in keep]:
                del self._lines[target]
        for target in changed:
            self._lines.pop(target, None)
        if self._metric_lines is not None:
            self._metric_lines.forget(changed)
        del changed
        templates = self._templates() if self._templates is not None else []
        ready = self._in_place()
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
            "confirmed_total": self._table.confirmed_total(),
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
