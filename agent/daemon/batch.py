"""One fetch call, start to finish: fetch, write each secret, record the results, tell listeners.

Every path that fetches (the first sync, a reload, a scheduled refresh, the outage probe) runs
``BatchRefresher.run``. Files are written on the calling thread with no agent-wide lock held
(the writer serialises its own operations); each secret is refreshed on a private copy of its
state that the table stores afterwards, so a snapshot never sees half an update.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from secrets_agent.daemon.changes import ChangeListeners
from secrets_agent.daemon.fetch import fetch_specs
from secrets_agent.daemon.onchange import run_on_change
from secrets_agent.daemon.refresh import refresh
from secrets_agent.daemon.table import Done, SecretTable
from secrets_agent.daemon.templates import Rendered, TemplateOutputs, run_commands
from secrets_agent.sources.result import SecretData, SourceError

if TYPE_CHECKING:
    from secrets_agent.config.load import SecretSpec
    from secrets_agent.sources.base import SecretSource
    from secrets_agent.writer.writer import SecretWriter

__all__ = ["BatchRefresher", "SyncReport"]

log = logging.getLogger(__name__)


@dataclass
class SyncReport:
    """The outcome of one sync. ``failed`` maps target -> error text (never a value)."""

    ok: bool
    written: int = 0
    unchanged: int = 0
    failed: dict[str, str] = field(default_factory=dict)


class BatchRefresher:
    """Runs fetch calls against the current source and writer (both may change on reload)."""

    def __init__(
        self,
        table: SecretTable,
        *,
        source: Callable[[], SecretSource],
        writer: Callable[[], SecretWriter],
        listeners: ChangeListeners,
        on_change_timeout: Callable[[], float],
        clock: Callable[[], float],
        rng: random.Random,
        templates: TemplateOutputs | None = None,
    ) -> None:
        self._table = table
        self._templates = templates if templates is not None else TemplateOutputs()
        self._source = source
        self._writer = writer
        self._listeners = listeners
        self._on_change_timeout = on_change_timeout
        self._clock = clock
        self._rng = rng

    def run(self, specs: Sequence[SecretSpec], *, probe: bool = False) -> SyncReport:
        """Fetch ``specs`` with one call per version stage, write them, record the results.

        ``probe``: a backend-wide failure backs the outage probe off one step (the probe
        itself, and calls made while the backend may be down, like the first sync).
        """
        report = SyncReport(ok=True)
        if not specs:
            return report
        outcomes = fetch_specs(self._source(), specs)
        writer = self._writer()
        done: list[Done] = []
        changed: list[str] = []
        commands: list[tuple[SecretSpec, SecretData]] = []
        now = self._clock()
        for spec in specs:
            state = self._table.state(spec.target)
            if state is None:
                continue  # removed by a reload meanwhile
            outcome, seconds = outcomes[spec.target]
            result = refresh(spec, outcome, writer, state, now=now, fetch_seconds=seconds)
            error = outcome if isinstance(outcome, SourceError) else None
            if isinstance(outcome, SecretData) and self._templates.feeds(spec.target):
                self._templates.offer(spec.target, outcome)
            done.append(Done(spec, state, result, error))
            if not result.ok:
                report.ok = False
                report.failed[spec.target] = result.error or "failed"
            elif result.changed:
                report.written += 1
                changed.append(spec.target)
                if spec.on_change and isinstance(outcome, SecretData):
                    commands.append((spec, outcome))
            else:
                report.unchanged += 1
        rendered = self._templates.render_due(writer, now)  # daemon.templates
        self._table.complete(done, probe=probe, now=now, rng=self._rng)
        self._listeners.notify(changed)  # every file of each changed secret is written now
        for spec, data in commands:
            self._run_on_change(spec, data, writer)
        self._templates_done(rendered, report, writer)
        return report

    def render_templates(self) -> SyncReport:
        """Bring the template outputs up to date without a fetch (after a reload changed a
        template whose sources' data is at hand)."""
        report = SyncReport(ok=True)
        writer = self._writer()
        self._templates_done(self._templates.render_due(writer, self._clock()), report, writer)
        return report

    def _templates_done(
        self, rendered: list[Rendered], report: SyncReport, writer: SecretWriter
    ) -> None:
        for r in rendered:
            if not r.ok:
                report.ok = False
                report.failed[r.spec.target] = r.error or "failed"
        self._listeners.notify(r.spec.target for r in rendered if r.changed)
        timeout = self._on_change_timeout()
        run_commands(rendered, timeout=timeout, output_dir=str(writer.output_dir))

    def _run_on_change(self, spec: SecretSpec, data: SecretData, writer: SecretWriter) -> None:
        assert spec.on_change is not None
        values: list[str | bytes] = [data.raw, *(data.fields or {}).values()]
        run_on_change(
            spec.on_change,
            timeout=self._on_change_timeout(),
            label=spec.target,
            secret_values=values,
            extra_env={
                "SECRETS_AGENT_TARGET": spec.target,
                "SECRETS_AGENT_OUTPUT_DIR": str(writer.output_dir),
            },
        )
