"""Switching the agent to a new config: prune what left it, fetch what is new, reschedule.

A mixin of ``secrets_agent.daemon.agent.Agent``.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from secrets_agent.daemon import outage as pacing
from secrets_agent.daemon.changes import ChangeListeners
from secrets_agent.daemon.state import SecretState
from secrets_agent.daemon.syncing import fetch_specs

if TYPE_CHECKING:
    from secrets_agent.config.load import Config, SecretSpec
    from secrets_agent.daemon.scheduler import JobScheduler
    from secrets_agent.daemon.syncing import Outcome, SyncReport
    from secrets_agent.sources.base import SecretSource
    from secrets_agent.writer.writer import SecretWriter

log = logging.getLogger(__name__)


class ReloadMixin:
    """``reload`` of the agent (see ``secrets_agent.daemon.agent``)."""

    _config: Config
    _specs: dict[str, SecretSpec]
    _states: dict[str, SecretState]
    _synced: set[str]
    _lock: threading.RLock
    _reload_lock: threading.Lock
    _writer: SecretWriter
    _source: SecretSource | None
    _owns_source: bool
    _prepared: bool
    _stopping: bool
    _scheduler: JobScheduler | None
    _gate: pacing.OutageGate
    _reload_error: list[str]
    _changes: ChangeListeners

    if TYPE_CHECKING:  # provided by the agent and its other mixins

        def _quiesce(self, timeout: float) -> None:
            raise NotImplementedError

        def _prepare(self) -> None:
            raise NotImplementedError

        def _get_source(self) -> SecretSource:
            raise NotImplementedError

        def _apply(self, specs: list[SecretSpec], outcomes: dict[str, Outcome]) -> SyncReport:
            raise NotImplementedError

        def _observe(
            self, specs: list[SecretSpec], outcomes: dict[str, Outcome], *, probe: bool
        ) -> bool:
            raise NotImplementedError

        def _publish(self) -> None:
            raise NotImplementedError

        def _schedule_all(self) -> None:
            raise NotImplementedError

        @staticmethod
        def _probe_cap(config: Config) -> float:
            raise NotImplementedError

        @staticmethod
        def _make_writer(config: Config) -> SecretWriter:
            raise NotImplementedError

    def reload(self, config: Config) -> None:
        """Switch to ``config``: prune files of secrets that left it, fetch new or changed
        secrets now, keep the state of the others, reschedule."""
        from secrets_agent.writer.writer import OutputDirError

        with self._reload_lock:
            running = self._scheduler is not None
            if running:
                self._quiesce(timeout=30)
            old = self._config
            new_specs = {s.target: s for s in config.secrets}
            with self._lock:
                same_dir = config.agent == old.agent
                removed = [t for t in self._specs if not same_dir or t not in new_specs]
                pruned = [target for target in removed if self._prune(target)]
                if not same_dir:
                    self._writer.close()
                    self._writer = self._make_writer(config)
                    self._prepared = False
                if config.backend != old.backend and self._owns_source and self._source:
                    self._source.close()
                    self._source = None
                for target, spec in new_specs.items():
                    if self._specs.get(target) != spec:
                        state = self._states.get(target)
                        if state is None or state.path != spec.path:
                            self._states[target] = SecretState(path=spec.path, target=target)
                        self._states[target].next_refresh_at = None  # fetch now
                        self._synced.discard(target)
                self._config, self._specs = config, new_specs
                self._reload_error = []
                self._gate.cap = self._probe_cap(config)
            log.info("config reloaded: %d secret(s), %d removed", len(new_specs), len(removed))
            self._changes.notify(pruned)
            try:
                self._prepare()
            except OutputDirError as exc:
                log.error("output directory unusable after reload: %s", exc)
                return
            fresh = [
                s for s in new_specs.values() if self._states[s.target].next_refresh_at is None
            ]
            if fresh:
                outcomes = fetch_specs(self._get_source(), fresh)
                self._apply(fresh, outcomes)
                self._observe(fresh, outcomes, probe=True)
            self._publish()
            if running and not self._stopping:
                with self._lock:
                    self._schedule_all()

    def _prune(self, target: str) -> bool:
        """Forget ``target`` and remove its files; True if any file was removed."""
        state = self._states.pop(target, None)
        self._synced.discard(target)
        removed = False
        for relpath in state.files if state else []:
            try:
                if self._writer.remove(relpath):
                    removed = True
                    log.info("removed %s (secret %s left the config)", relpath, target)
            except Exception as exc:
                log.warning("could not remove %s: %s", relpath, exc)
        return removed
