"""The agent: first sync, scheduled refreshes, reload, graceful stop, systemd notifications.

Construct it from a parsed ``Config``; inject a ``source`` (anything with ``fetch_many`` and
``close``) to test or benchmark without a backend::

    agent = Agent(config)            # or Agent(config, source=my_source)
    report = agent.sync_once()       # fetch + render + write every secret once
    agent.start()                    # background refreshes (APScheduler)
    ...
    agent.stop()

``run_forever`` does all of this for ``secrets-agent run``: signals, READY/WATCHDOG/STATUS.
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from secrets_agent.daemon import outage as pacing
from secrets_agent.daemon.changes import ChangeListener, ChangeListeners
from secrets_agent.daemon.jobs import JobsMixin
from secrets_agent.daemon.onchange import run_on_change
from secrets_agent.daemon.publish import PublishMixin
from secrets_agent.daemon.refresh import refresh
from secrets_agent.daemon.reload import ReloadMixin
from secrets_agent.daemon.scheduler import JobScheduler
from secrets_agent.daemon.state import SecretState
from secrets_agent.daemon.syncing import (
    Outcome,
    SyncReport,
    fetch_specs,
)
from secrets_agent.notify import Notifier
from secrets_agent.sources.base import SecretSource, create_source
from secrets_agent.sources.result import AuthenticationError, SecretData, SourceError
from secrets_agent.writer.writer import SecretWriter

if TYPE_CHECKING:
    from secrets_agent.config.load import Config, SecretSpec

__all__ = ["Agent", "SyncReport"]

log = logging.getLogger(__name__)


class _FailingSource:
    """Stands in when the real source cannot even be built (e.g. no AWS region)."""

    name = "unavailable"

    def __init__(self, error: str) -> None:
        self._error = error

    def fetch_many(self, paths: Any, **_: Any) -> dict[str, SecretData | SourceError]:
        return {p: AuthenticationError(self._error, path=p) for p in paths}

    def close(self) -> None:
        pass


class Agent(PublishMixin, ReloadMixin, JobsMixin):
    """Keeps the configured secrets written and fresh. See the module docstring."""

    def __init__(
        self,
        config: Config,
        *,
        source: SecretSource | None = None,
        notifier: Notifier | None = None,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        self._config = config
        self._source = source
        self._owns_source = source is None
        self.notifier = notifier if notifier is not None else Notifier.from_environ()
        self._clock = clock
        self._rng = rng if rng is not None else random.SystemRandom()
        self._writer = self._make_writer(config)
        self._specs: dict[str, SecretSpec] = {s.target: s for s in config.secrets}
        self._states = {t: SecretState(path=s.path, target=t) for t, s in self._specs.items()}
        self._synced: set[str] = set()  # targets written (or confirmed) at least once
        self._refreshed: set[str] = set()  # targets fetched successfully by this process
        self._gate = pacing.OutageGate(cap=self._probe_cap(config))
        self._resume: dict[str, float] = {}  # target -> its slot after an outage catch-up
        self._lock = threading.RLock()  # states, writer, status files
        self._reload_lock = threading.Lock()
        self._active = 0
        self._idle = threading.Condition()
        self._generation = 0
        self._groups: dict[str, list[str]] = {}
        self._scheduler: JobScheduler | None = None
        self._prepared = False
        self._stopping = False
        self._started_at = clock()
        self._announce_ready = False
        self._ready_sent = False
        self._reload_error: list[str] = []  # problems of the last rejected config, if any
        self._changes = ChangeListeners()
        self.stop_requested = threading.Event()
        self.reload_requested = threading.Event()

    # -- public API ------------------------------------------------------------------------

    @property
    def config(self) -> Config:
        """The config in force."""
        return self._config

    @property
    def output_dir(self) -> os.PathLike[str]:
        return self._writer.output_dir

    def states(self) -> list[SecretState]:
        """Snapshot copies of every secret's state, in config order."""
        import copy

        with self._lock:
            return [copy.copy(self._states[t]) for t in self._specs]

    def all_synced(self) -> bool:
        """True once every configured secret has been written successfully at least once."""
        with self._lock:
            return set(self._specs) <= self._synced

    def scheduler_alive(self) -> bool:
        """True while background refreshes are running."""
        scheduler = self._scheduler
        return scheduler is not None and scheduler.running

    def announce_ready(self) -> None:
        """Send ``READY=1`` as soon as every secret is in place (now, or after a later run)."""
        self._announce_ready = True
        self._publish()

    def add_change_listener(self, listener: ChangeListener) -> None:
        """Call ``listener(target)`` after a refresh that changed a secret's files, once all of
        them are in place, and after a reload removed them (``secrets_agent.daemon.changes``)."""
        self._changes.add(listener)

    def remove_change_listener(self, listener: ChangeListener) -> None:
        """Undo ``add_change_listener``."""
        self._changes.remove(listener)

    def sync_once(self) -> SyncReport:
        """Fetch, render and write every secret once; write status files; return the report.

        Raises ``OutputDirError`` when ``output_dir`` is unusable (nothing is written then).
        """
        self._prepare()
        specs = list(self._specs.values())
        outcomes = fetch_specs(self._get_source(), specs)
        report = self._apply(specs, outcomes)
        if specs:
            self._observe(specs, outcomes, probe=True)
        self._publish()
        return report

    def start(self) -> None:
        """Start background refreshes (each secret at its next refresh time, or now)."""
        self._prepare()
        with self._lock:
            if self._scheduler is not None:
                return
            self._stopping = False
            self._scheduler = JobScheduler(max_workers=self._config.agent.concurrency)
            self._schedule_all()
            self._scheduler.start()
        log.info("refreshing %d secret(s) in the background", len(self._specs))

    def stop(self, timeout: float = 10) -> None:
        """Stop refreshing; let in-flight writes finish (up to ``timeout`` s); close the source."""
        self._stopping = True
        self._quiesce(timeout)
        with self._lock:
            scheduler, self._scheduler = self._scheduler, None
        if scheduler is not None:
            scheduler.shutdown(wait=False)
        self._publish()
        self._writer.close()  # kept directory descriptors; reopened if used again
        if self._owns_source and self._source is not None:
            self._source.close()
            self._source = None

    def run_forever(self) -> int:
        """The ``run`` command: sync, READY=1, refresh until SIGTERM/SIGINT; exit code."""
        from secrets_agent.daemon.runloop import run_forever

        return run_forever(self)

    # -- internals -------------------------------------------------------------------------

    @staticmethod
    def _probe_cap(config: Config) -> float:
        """The outage probe's backoff ceiling: the shortest refresh interval."""
        return min(
            (s.refresh_interval for s in config.secrets), default=config.agent.refresh_interval
        )

    @staticmethod
    def _make_writer(config: Config) -> SecretWriter:
        a = config.agent
        return SecretWriter(a.output_dir, dir_mode=a.dir_mode, allow_non_tmpfs=a.allow_non_tmpfs)

    def _prepare(self) -> None:
        with self._lock:
            if not self._prepared:
                self._writer.prepare()
                self._prepared = True
                from secrets_agent.daemon.resume import adopt_previous_status

                adopt_previous_status(self._writer, self._states, self._synced, self._specs)

    def _get_source(self) -> SecretSource:
        with self._lock:
            if self._source is None:
                try:
                    self._source = create_source(
                        self._config.backend, concurrency=self._config.agent.concurrency
                    )
                except Exception as exc:
                    log.error("cannot set up the %s client: %s", self._config.backend.type, exc)
                    return _FailingSource(f"cannot set up the backend client ({exc})")
            return self._source

    def _apply(self, specs: list[SecretSpec], outcomes: dict[str, Outcome]) -> SyncReport:
        report = SyncReport(ok=True)
        commands: list[tuple[SecretSpec, SecretData]] = []
        changed: list[str] = []
        with self._lock:
            for spec in specs:
                if spec.target not in self._specs:
                    continue  # removed by a reload meanwhile
                outcome, seconds = outcomes[spec.target]
                state = self._states[spec.target]
                result = refresh(
                    spec,
                    outcome,
                    self._writer,
                    state,
                    now=self._clock(),
                    rng=self._rng,
                    fetch_seconds=seconds,
                    first=spec.target not in self._refreshed,
                )
                slot = self._resume.pop(spec.target, None)
                if not result.ok:
                    report.ok = False
                    report.failed[spec.target] = result.error or "failed"
                    continue
                if slot is not None:
                    state.next_refresh_at = slot  # back to its pre-outage place in the cycle
                self._refreshed.add(spec.target)
                self._synced.add(spec.target)
                if result.changed:
                    report.written += 1
                    changed.append(spec.target)
                    if spec.on_change and isinstance(outcome, SecretData):
                        commands.append((spec, outcome))
                else:
                    report.unchanged += 1
        self._changes.notify(changed)  # every file of each changed secret is written now
        for spec, data in commands:
            self._run_on_change(spec, data)
        return report

    def _run_on_change(self, spec: SecretSpec, data: SecretData) -> None:
        assert spec.on_change is not None
        values: list[str | bytes] = [data.raw, *(data.fields or {}).values()]
        run_on_change(
            spec.on_change,
            timeout=self._config.agent.on_change_timeout,
            label=spec.target,
            secret_values=values,
            extra_env={
                "SECRETS_AGENT_TARGET": spec.target,
                "SECRETS_AGENT_OUTPUT_DIR": str(self._writer.output_dir),
            },
        )
