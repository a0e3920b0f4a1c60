"""One fetch call, start to finish: fetch, write each secret, record the results, tell listeners.

Every path that fetches (the first sync, a reload, a scheduled refresh, the outage probe) runs
``BatchRefresher.run``. Files are written on the calling thread with no agent-wide lock held
(the writer serialises its own operations); each secret is refreshed on a private copy of its
state that the table stores afterwards, so a snapshot never sees half an update. Leased secrets
are fetched one by one (``daemon.leases``: renew or issue); the old lease of a replacement is
released after ``on_change`` ran.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from secrets_agent.daemon.changes import ChangeListeners
from secrets_agent.daemon.confirm import confirm_unchanged
from secrets_agent.daemon.fetch import Outcome, fetch_one, fetch_specs
from secrets_agent.daemon.leases import Issued, fetch_leased, refresh_leased, release
from secrets_agent.daemon.onchange import run_on_change
from secrets_agent.daemon.refresh import RefreshResult, refresh
from secrets_agent.daemon.table import Done, SecretTable
from secrets_agent.daemon.templates import Rendered, TemplateOutputs, run_commands
from secrets_agent.sources.base import split_path
from secrets_agent.sources.result import (
    UNCHANGED,
    BackendUnavailableError,
    SecretData,
    SourceError,
)

if TYPE_CHECKING:
    from secrets_agent.config.load import SecretSpec
    from secrets_agent.daemon.state import SecretState
    from secrets_agent.sources.base import SecretSource
    from secrets_agent.writer.writer import SecretWriter

__all__ = ["SYNC_CHUNK", "BatchRefresher", "SyncReport"]

log = logging.getLogger(__name__)

# ``sync`` fetches this many secrets at a time: what one call holds in memory is bounded, and
# a large first sync leaves no peak of fetched data behind in the process's heap.
SYNC_CHUNK = 500


@dataclass
class SyncReport:
    """The outcome of one sync. ``failed`` maps target -> error text (never a value)."""

    ok: bool
    written: int = 0
    unchanged: int = 0
    failed: dict[str, str] = field(default_factory=dict)

    def add(self, other: SyncReport) -> None:
        """Count ``other`` (the report of another part of the same sync) in this one."""
        self.ok = self.ok and other.ok
        self.written += other.written
        self.unchanged += other.unchanged
        self.failed.update(other.failed)


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

    def sync(self, specs: Sequence[SecretSpec]) -> SyncReport:
        """``run`` every spec, ``SYNC_CHUNK`` at a time (the first sync, a reload's new
        secrets). The first call counts as the outage probe; a backend found down by a later
        one closes the gate without backing the probe off further."""
        report = SyncReport(ok=True)
        for start in range(0, len(specs), SYNC_CHUNK):
            report.add(self.run(specs[start : start + SYNC_CHUNK], probe=start == 0))
        return report

    def run(self, specs: Sequence[SecretSpec], *, probe: bool = False) -> SyncReport:
        """Fetch ``specs`` with one call per version stage, write them, record the results.

        ``probe``: a backend-wide failure backs the outage probe off one step (the probe
        itself, and calls made while the backend may be down, like the first sync).
        """
        if not specs:
            return SyncReport(ok=True)
        source = self._source()
        outcomes = {} if probe else self._confirm(source, specs)
        kv = [s for s in specs if s.kind != "lease" and s.target not in outcomes]
        if kv:
            outcomes.update(fetch_specs(source, kv))
        return self._apply(source, specs, outcomes, probe)

    def run_each(self, specs: Sequence[SecretSpec]) -> tuple[SyncReport, list[SecretSpec]]:
        """Fetch ``specs`` one at a time on this thread (a source that reads one path a
        call), then write and record them, ``SYNC_CHUNK`` at a time; returns the report and
        the secrets not fetched: fetching stops at the first backend-wide failure, so a
        backend that went down costs this call one timeout, not one per secret (the caller
        gives the rest back to the table).

        Secrets the source confirms without a read (``daemon.confirm``) take the other secrets
        of their directories along (``daemon.siblings``): those are confirmed by the same
        listing, or read, in this call too.
        """
        if not specs:
            return SyncReport(ok=True), []
        source = self._source()
        outcomes = self._confirm(source, specs)
        along = self._along(specs, outcomes)
        todo = [*specs, *along]
        report = SyncReport(ok=True)
        try:
            for start in range(0, len(todo), SYNC_CHUNK):
                chunk = todo[start : start + SYNC_CHUNK]
                taken_along = chunk[max(0, len(specs) - start) :]
                if taken_along:  # confirmed by the listing that confirmed the due ones
                    outcomes.update(self._confirm(source, taken_along))
                for index, spec in enumerate(chunk):
                    if spec.kind == "lease" or spec.target in outcomes:
                        continue  # leases are fetched by ``_apply``, one by one
                    outcome = outcomes[spec.target] = fetch_one(source, spec)
                    if isinstance(outcome[0], BackendUnavailableError):
                        report.add(self._apply(source, chunk[: index + 1], outcomes, False))
                        return report, todo[start + index + 1 :]
                report.add(self._apply(source, chunk, outcomes, False))
                for spec in chunk:  # what one call holds stays bounded
                    outcomes.pop(spec.target, None)
        except BaseException:
            self._table.give_back(along)  # those not recorded yet go back to their times
            raise
        return report, []

    def _confirm(self, source: SecretSource, specs: Sequence[SecretSpec]) -> dict[str, Outcome]:
        """The outcomes of the ``specs`` the source confirms without a read
        (``daemon.confirm``)."""
        same = confirm_unchanged(
            source,
            self._writer(),
            specs,
            state_of=self._table.peek,
            feeds_template=self._templates.feeds,
        )
        return dict.fromkeys(same, (UNCHANGED, None))

    def _along(self, specs: Sequence[SecretSpec], confirmed: Collection[str]) -> list[SecretSpec]:
        """The secrets taken along by the ``confirmed`` ones (``SecretTable.take_along``)."""
        if not confirmed:
            return []
        directories = {split_path(s.path)[0] for s in specs if s.target in confirmed}
        return self._table.take_along(directories, self._clock())

    def _apply(
        self,
        source: SecretSource,
        specs: Sequence[SecretSpec],
        outcomes: dict[str, Outcome],
        probe: bool,
    ) -> SyncReport:
        """Write the fetched ``outcomes`` (and fetch and write the leased ``specs``), record
        every result in the table, tell listeners, run ``on_change``."""
        report = SyncReport(ok=True)
        writer = self._writer()
        done: list[Done] = []
        changed: list[str] = []
        commands: list[tuple[SecretSpec, SecretData]] = []
        released: list[tuple[SecretSpec, str]] = []
        now = self._clock()
        for spec in specs:
            state = self._table.state(spec.target)
            if state is None:
                continue  # removed by a reload meanwhile
            if spec.kind == "lease":
                result, error, data, old_lease = _leased(source, spec, state, writer, now)
                if old_lease is not None:
                    released.append((spec, old_lease))
            else:
                outcome, seconds = outcomes[spec.target]
                result = refresh(spec, outcome, writer, state, now=now, fetch_seconds=seconds)
                error = outcome if isinstance(outcome, SourceError) else None
                data = outcome if isinstance(outcome, SecretData) else None
            if isinstance(data, SecretData) and self._templates.feeds(spec.target):
                self._templates.offer(spec.target, data)
            done.append(Done(spec, state, result, error))
            if not result.ok:
                report.ok = False
                report.failed[spec.target] = result.error or "failed"
            elif result.changed:
                report.written += 1
                changed.append(spec.target)
                if spec.on_change and data is not None:
                    commands.append((spec, data))
            else:
                report.unchanged += 1
        rendered = self._templates.render_due(writer, now)  # daemon.templates
        self._table.complete(done, probe=probe, now=now, rng=self._rng)
        self._listeners.notify(changed)  # every file of each changed secret is written now
        for spec, data in commands:
            self._run_on_change(spec, data, writer)
        for spec, lease_id in released:  # only now that the new one is in use
            release(source, spec, lease_id)
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
        if not rendered:
            return
        for r in rendered:
            if not r.ok:
                report.ok = False
                report.failed[r.spec.target] = r.error or "failed"
        self._listeners.notify(r.spec.target for r in rendered if r.changed)
        timeout = self._on_change_timeout()
        run_commands(rendered, timeout=timeout, output_dir=str(writer.output_dir))

    def _run_on_change(self, spec: SecretSpec, data: SecretData, writer: SecretWriter) -> None:
        assert spec.on_change is not None
        run_on_change(
            spec.on_change,
            timeout=self._on_change_timeout(),
            label=spec.target,
            secret_values=_values_and_files(spec, data),
            extra_env={
                "SECRETS_AGENT_TARGET": spec.target,
                "SECRETS_AGENT_OUTPUT_DIR": str(writer.output_dir),
            },
        )


def _leased(
    source: SecretSource, spec: SecretSpec, state: SecretState, writer: SecretWriter, now: float
) -> tuple[RefreshResult, SourceError | None, SecretData | None, str | None]:
    """Refresh one leased secret: (result, the source's error, the new secret if one was
    issued, the old lease to release after ``on_change``). A lease is released only once the
    files hold its replacement, with ``revoke_replaced``, and never one the server said is gone.
    """
    old_lease = state.lease_id
    leased, seconds = fetch_leased(source, spec, state, now)
    result = refresh_leased(spec, leased, writer, state, now=now, fetch_seconds=seconds)
    error = leased if isinstance(leased, SourceError) else None
    data = leased.data if isinstance(leased, Issued) else None
    gone = isinstance(leased, Issued) and leased.old_gone
    release_old = result.changed and spec.revoke_replaced and not gone
    if not release_old or old_lease is None or state.lease_id == old_lease:
        old_lease = None
    return result, error, data, old_lease


def _values_and_files(spec: SecretSpec, data: SecretData) -> Iterator[str | bytes]:
    """What an ``on_change`` hook's output is masked with: the raw value, each field, and the
    bytes of each file written for the secret (its env-escaped, JSON or template form),
    rendered again only if the output is shown."""
    from secrets_agent.render.formats import render

    yield data.raw
    yield from (data.fields or {}).values()
    try:
        files = render(spec, data)
    except Exception:  # it rendered a moment ago; if not now, show no output at all
        yield "!"  # shorter than any value mask() can hide: the output is withheld
        return
    yield from files.values()
