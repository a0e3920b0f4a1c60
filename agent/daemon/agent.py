"""The agent: first sync, background refreshes, reload, graceful stop, systemd notifications.

A facade that wires its collaborators and nothing more: the state table (``daemon.table``), the
fetch-write-record step (``daemon.batch``), the job runner and its scheduler (``daemon.runner``,
``daemon.scheduler``), the publisher (``daemon.publish``) and the source (``daemon.source_holder``).
Construct it from a parsed ``Config``; inject a ``source`` to test or benchmark without a backend,
and a ``scheduler`` (``daemon.manual.ManualScheduler``) to drive it on a fake clock::

    agent = Agent(config)            # or Agent(config, source=my_source)
    report = agent.sync_once()       # fetch + render + write every secret once
    agent.start()                    # background refreshes
    ...
    agent.stop()

``run_forever`` does all of this for ``secrets-agent run``: signals, READY/WATCHDOG/STATUS.
"""

from __future__ import annotations

import copy
import logging
import os
import random
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from secrets_agent.daemon.batch import BatchRefresher, SyncReport
from secrets_agent.daemon.changes import ChangeListener, ChangeListeners
from secrets_agent.daemon.leases import revoke_on_stop
from secrets_agent.daemon.publish import Publisher
from secrets_agent.daemon.source_holder import SourceHolder
from secrets_agent.daemon.state import SecretState
from secrets_agent.daemon.table import SecretTable
from secrets_agent.daemon.templates import TemplateOutputs, TemplateState
from secrets_agent.notify import Notifier
from secrets_agent.status import config_identity
from secrets_agent.writer.writer import SecretWriter

if TYPE_CHECKING:
    from secrets_agent.config.load import Config
    from secrets_agent.daemon.runner import Runner
    from secrets_agent.daemon.scheduler import Scheduler
    from secrets_agent.sources.base import SecretSource

__all__ = ["Agent", "SyncReport"]

log = logging.getLogger(__name__)

RELOAD_QUIESCE = 30.0


def _make_writer(config: Config) -> SecretWriter:
    a = config.agent
    return SecretWriter(a.output_dir, dir_mode=a.dir_mode, allow_non_tmpfs=a.allow_non_tmpfs)


class Agent:
    """Keeps the configured secrets written and fresh. See the module docstring."""

    def __init__(
        self,
        config: Config,
        *,
        source: SecretSource | None = None,
        notifier: Notifier | None = None,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        scheduler: Scheduler | None = None,
    ) -> None:
        self._config = config
        self.notifier = notifier if notifier is not None else Notifier.from_environ()
        self._clock = clock
        # Jitter needs spread, not secrecy: one seed from the OS, no system call per draw.
        self._rng = rng if rng is not None else random.Random()  # noqa: S311
        self._sources = SourceHolder(
            config.backend, concurrency=config.agent.concurrency, source=source
        )
        self._sources.expect(_kv_paths(config))
        self._writer = _make_writer(config)
        self._prepared = False
        self._table = SecretTable(
            config.secrets,
            probe_max=config.agent.outage_probe_max,
            catch_up_max=config.agent.catch_up_window,
        )
        self._changes = ChangeListeners()
        self._templates = TemplateOutputs(config.templates, config.secrets)
        self._refresher = BatchRefresher(
            self._table,
            source=self._sources.get,
            writer=lambda: self._writer,
            listeners=self._changes,
            on_change_timeout=lambda: self._config.agent.on_change_timeout,
            clock=clock,
            rng=self._rng,
            templates=self._templates,
        )
        self._publisher = Publisher(
            self._table,
            self.notifier,
            clock=clock,
            backend=config.backend.type,
            started_at=clock(),
            config=config_identity(config.source),
            templates=self._templates.status_entries,
            templates_ready=self._templates.ready,
        )
        self._given_scheduler = scheduler
        self._runner: Runner | None = None
        self._lock = threading.RLock()  # start, stop, prepare
        self._reload_lock = threading.Lock()
        self._stopping = False
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
        """Copies of every secret's state, in config order."""
        return [copy.copy(s) for s in self._table.states()]

    def template_states(self) -> list[TemplateState]:
        """Copies of every template output's state, in config order."""
        return self._templates.states()

    def all_synced(self) -> bool:
        """True once every configured secret and template output has been written
        successfully at least once."""
        return self._table.ready() and self._templates.ready()

    def scheduler_alive(self) -> bool:
        """True while background refreshes are running."""
        runner = self._runner
        return runner is not None and runner.scheduler.running

    def announce_ready(self) -> None:
        """Send ``READY=1`` as soon as every secret is in place (now, or after a later run)."""
        self._publisher.announce_ready()
        self._publisher.flush(force=True)

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
        report = self._refresher.sync(self._table.specs())
        self._publisher.flush(force=True)
        return report

    def start(self) -> None:
        """Start background refreshes (each secret at its next refresh time, or now)."""
        from secrets_agent.daemon.runner import Runner
        from secrets_agent.daemon.scheduler import JobScheduler

        self._prepare()
        with self._lock:
            if self._runner is not None:
                return
            self._stopping = False
            scheduler = self._given_scheduler or JobScheduler(
                workers=self._config.agent.concurrency
            )
            self._runner = Runner(
                self._table,
                self._refresher,
                self._publisher,
                scheduler,
                batch_size=lambda: self._sources.get().batch_size,
                workers=self._config.agent.concurrency,
                maintain=lambda: self._sources.get().maintain(),
                clock=self._clock,
                rng=self._rng,
            )
            self._runner.start()
        log.info("refreshing %d secret(s) in the background", len(self._table.specs()))

    def stop(self, timeout: float = 10) -> None:
        """Stop refreshing; let in-flight writes finish (up to ``timeout`` s); close the source."""
        with self._lock:
            self._stopping = True
            runner, self._runner = self._runner, None
        if runner is not None:
            runner.stop(timeout)
            revoke_on_stop(self._table, self._sources.get)  # not after a one-shot sync
        self._publisher.flush(force=True)
        self._writer.close()  # kept directory descriptors; reopened if used again
        self._sources.close()

    def reload(self, config: Config) -> None:
        """Switch to ``config``: prune files of secrets that left it, fetch new or changed
        secrets now, keep the state and schedule of the others."""

        with self._reload_lock:
            runner = self._runner
            if runner is not None:
                runner.pause(RELOAD_QUIESCE)
            try:
                self._switch(config)
            finally:
                if runner is not None and not self._stopping:
                    runner.resume()

    def reload_failed(self, problems: Sequence[str]) -> None:
        """Record that a new config was rejected (the current one stays in force): its
        problems go to status, metrics and ``STATUS=`` until the next successful reload.
        ``problems`` are ``ConfigError`` problems, which never hold values."""
        self._publisher.set_reload_error(list(problems) or ["rejected"])
        self._publisher.flush(force=True)

    def run_forever(self) -> int:
        """The ``run`` command: sync, READY=1, refresh until SIGTERM/SIGINT; exit code."""
        from secrets_agent.daemon.runloop import run_forever

        return run_forever(self)

    # -- internals -------------------------------------------------------------------------

    def _switch(self, config: Config) -> None:
        """Carry out the reload plan (the runner is paused)."""
        from secrets_agent.daemon.reload import plan_reload
        from secrets_agent.writer.writer import OutputDirError

        states = {s.target: s for s in self._table.states()}
        plan = plan_reload(self._config, config, states)
        pruned = [t for t in plan.removed if self._prune(states[t])]
        gone, refetch = self._templates.configure(
            config.templates, config.secrets, reset=plan.new_writer
        )
        pruned += [t.target for t in gone if self._prune(t)]
        planned = {s.target for s in plan.fetch_now}
        fetch_now = [*plan.fetch_now]
        fetch_now += [s for s in config.secrets if s.target in refetch - planned]
        with self._lock:
            if plan.new_writer:
                self._writer.close()
                self._writer = _make_writer(config)
                self._prepared = False
                self._publisher.set_outputs(None, None, config.backend.type)
            if plan.new_source:
                self._sources.replace(config.backend)
            self._sources.expect(_kv_paths(config))
            self._table.configure(
                config.secrets,
                probe_max=config.agent.outage_probe_max,
                catch_up_max=config.agent.catch_up_window,
                reset=plan.removed,
            )
            self._config = config
        self._publisher.set_reload_error([])
        log.info(
            "config reloaded: %d secret(s), %d removed", len(config.secrets), len(plan.removed)
        )
        self._changes.notify(pruned)
        try:
            self._prepare()
        except OutputDirError as exc:
            log.error("output directory unusable after reload: %s", exc)
        else:
            try:
                self._refresher.sync(fetch_now)
                self._refresher.render_templates()
            except Exception as exc:  # the schedule must survive a bug: retry them soon
                log.error("fetch after reload failed: %s: %s", type(exc).__name__, exc)
                self._table.abandon(fetch_now, probe=False, now=self._clock(), rng=self._rng)
        self._publisher.flush(force=True)

    def _prepare(self) -> None:
        with self._lock:
            if self._prepared:
                return
            self._writer.prepare()
            self._prepared = True
            from secrets_agent.daemon.resume import adopt_previous_status

            identity = config_identity(self._config.source)
            adopt_previous_status(self._writer, self._table, identity=identity)
            a = self._config.agent
            self._publisher.set_outputs(self._writer, a.metrics_file, self._config.backend.type)

    def _prune(self, state: SecretState | TemplateState) -> bool:
        """Remove ``state``'s files (a secret or template output that left the config); True
        if any was removed."""
        removed = False
        for relpath in state.files:
            try:
                if self._writer.remove(relpath):
                    removed = True
                    log.info("removed %s (secret %s left the config)", relpath, state.target)
            except Exception as exc:
                log.warning("could not remove %s: %s", relpath, exc)
        return removed


def _kv_paths(config: Config) -> list[str]:
    """The paths of the KV secrets (what the source may confirm without reading them)."""
    return [s.path for s in config.secrets if s.kind == "kv"]
