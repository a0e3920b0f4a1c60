"""Publishing the agent's state: ``.status.json``, the metrics file, ``STATUS=``/``READY=1``.

A mixin of ``secrets_agent.daemon.agent.Agent``. ``_publish`` runs after every sync, refresh job,
probe, reload and stop; a rejected config reload (``reload_failed``) is part of what it
publishes until the next successful reload.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from secrets_agent import __version__
from secrets_agent.daemon.syncing import summary

if TYPE_CHECKING:
    from secrets_agent.config.load import Config, SecretSpec
    from secrets_agent.daemon.state import SecretState
    from secrets_agent.notify import Notifier
    from secrets_agent.writer.writer import SecretWriter

log = logging.getLogger(__name__)


class PublishMixin:
    """Status, metrics and systemd notifications of the agent (see ``daemon.agent``)."""

    _config: Config
    _specs: dict[str, SecretSpec]
    _states: dict[str, SecretState]
    _synced: set[str]
    _lock: threading.RLock
    _clock: Callable[[], float]
    _writer: SecretWriter
    _prepared: bool
    _started_at: float
    _announce_ready: bool
    _ready_sent: bool
    _reload_error: list[str]
    notifier: Notifier

    def reload_failed(self, problems: list[str]) -> None:
        """Record that a new config was rejected (the current one stays in force): its
        problems go to status, metrics and ``STATUS=`` until the next successful reload.
        ``problems`` are ``ConfigError`` problems, which never hold values."""
        with self._lock:
            self._reload_error = [" ".join(str(p).split()) for p in problems] or ["rejected"]
        self._publish()

    def _agent_info(self) -> dict[str, object]:
        states = list(self._states.values())
        return {
            "pid": os.getpid(),
            "version": __version__,
            "started_at": self._started_at,
            "backend": self._config.backend.type,
            "healthy": all(s.consecutive_failures == 0 for s in states),
            "ready": set(self._specs) <= self._synced,
            "secrets": len(states),
            "reload_error": list(self._reload_error) or None,
        }

    def _publish(self) -> None:
        """Write .status.json and the metrics file; update STATUS= (and READY= if due)."""
        now = self._clock()
        with self._lock:
            states = [self._states[t] for t in self._specs]
            info = self._agent_info()
            line = summary(states, now, reload_error=self._reload_error)
            if not self._prepared:  # output_dir refused (already reported) or never prepared
                self.notifier.status(line)
                return
            try:
                from secrets_agent.status import write_status

                write_status(self._writer, states, info)
            except Exception as exc:
                log.warning("could not write the status file: %s", exc)
            metrics_file = self._config.agent.metrics_file
            if metrics_file is not None:
                try:
                    from secrets_agent.metrics import write_metrics

                    write_metrics(metrics_file, states, info, now=now)
                except Exception as exc:
                    log.warning("could not write the metrics file: %s", exc)
            ready_now = self._announce_ready and not self._ready_sent and bool(info["ready"])
            if ready_now:
                self._ready_sent = True
        if ready_now:
            self.notifier.ready(line)
            log.info("all secrets in place: %s", line)
        else:
            self.notifier.status(line)
