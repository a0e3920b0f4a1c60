"""Template outputs (``[[templates]]``): files rendered from the fields of several secrets.

A template output costs no fetch of its own: its sources are ``[[secrets]]`` entries, fetched
and scheduled as usual. ``BatchRefresher`` offers every fetched secret that feeds an output
(``offer``) and then asks for the outputs to bring up to date (``render_due``):

* the fields an output uses are kept in memory, per source secret, from its latest fetch, and
  only while a configured template uses them (the other fields of the secret are never kept);
* an output is re-rendered when a source's used fields changed (or its template did), and only
  once every source has data: nothing is written before that;
* a render or write error (a field the secret lacks, a source that is not a JSON object, a full
  disk) is the output's own error and leaves its last good file in place; a source whose fetch
  fails simply offers nothing, so the output keeps its file (the secret's own status row
  says why).

Rendering and writing happen under this module's lock (two fetch calls feeding one output
must not write it out of order); a render costs O(size of that output), never O(all secrets).
No value ever reaches a log line, an error text, a ``repr`` or the status entries.
"""

from __future__ import annotations

import copy
import logging
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from secrets_agent.render.errors import RenderError
from secrets_agent.render.multi import compiled, render_output
from secrets_agent.render.template import Template

if TYPE_CHECKING:
    from secrets_agent.config.schema import SecretSpec, TemplateSpec
    from secrets_agent.sources.result import SecretData
    from secrets_agent.writer.writer import SecretWriter

__all__ = ["Rendered", "TemplateOutputs", "TemplateState"]

log = logging.getLogger(__name__)


@dataclass
class TemplateState:
    """Non-secret bookkeeping of one template output (its ``.status.json`` entry)."""

    target: str
    sources: dict[str, str]  # source name -> target of the [[secrets]] entry
    waiting_for: list[str] = field(default_factory=list)  # sources without data yet
    rendered_at: float | None = None  # last successful render (written or unchanged)
    changed_at: float | None = None  # the file last changed
    last_error: str | None = None
    consecutive_failures: int = 0
    errors_total: int = 0
    files: list[str] = field(default_factory=list)

    def entry(self) -> dict[str, object]:
        """The JSON object for ``.status.json``."""
        return {
            "target": self.target,
            "sources": dict(self.sources),
            "waiting_for": list(self.waiting_for),
            "rendered_at": self.rendered_at,
            "changed_at": self.changed_at,
            "last_error": self.last_error,
            "consecutive_failures": self.consecutive_failures,
            "errors_total": self.errors_total,
            "files": list(self.files),
        }


@dataclass(frozen=True)
class Rendered:
    """One output brought up to date: ``changed`` when its file was written; ``values`` are
    the values it holds (to mask in ``on_change`` output), kept out of ``repr``."""

    spec: TemplateSpec
    ok: bool
    changed: bool
    error: str | None = None
    values: tuple[str, ...] = field(default=(), repr=False)


class _Kept:
    """The used fields of one source secret, as last fetched (``None``: not a JSON object)."""

    __slots__ = ("fields",)

    def __init__(self, fields: Mapping[str, str] | None) -> None:
        self.fields = fields

    def __repr__(self) -> str:
        return "<kept fields>" if self.fields is not None else "<not a JSON object>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Kept) and self.fields == other.fields

    __hash__ = None  # type: ignore[assignment]


@dataclass
class _Output:
    spec: TemplateSpec
    template: Template
    state: TemplateState


class TemplateOutputs:
    """The configured template outputs and the data that feeds them (module docstring)."""

    def __init__(
        self, templates: Sequence[TemplateSpec] = (), secrets: Sequence[SecretSpec] = ()
    ) -> None:
        self._lock = threading.Lock()
        self._outputs: dict[str, _Output] = {}
        self._feeds: dict[str, list[str]] = {}  # secret target -> outputs it feeds
        self._used: dict[str, frozenset[str]] = {}  # secret target -> fields kept of it
        self._sources: dict[str, SecretSpec] = {}  # secret target -> its spec
        self._kept: dict[str, _Kept] = {}
        self._dirty: set[str] = set()  # outputs to render: inputs changed, every source has data
        self.configure(templates, secrets)

    def configure(
        self,
        templates: Sequence[TemplateSpec],
        secrets: Sequence[SecretSpec],
        *,
        reset: bool = False,
    ) -> tuple[list[TemplateState], set[str]]:
        """Switch to ``templates``. Returns (the states of outputs that left, or all of them
        with ``reset``: their files are to be removed; the targets of secrets to fetch now, as
        their kept fields do not cover what the new templates use)."""
        with self._lock:
            by_target = {s.target: s for s in secrets}
            old = self._outputs
            new: dict[str, _Output] = {}
            for spec in templates:
                before = old.get(spec.target)
                if before is not None and before.spec == spec and not reset:
                    new[spec.target] = before
                    continue
                state = TemplateState(spec.target, dict(spec.sources))
                if before is not None and not reset:
                    state.files = list(before.state.files)
                new[spec.target] = _Output(spec, compiled(spec), state)
                self._dirty.add(spec.target)  # dropped below while it waits for a source
            removed = [o.state for t, o in old.items() if reset or t not in new]
            feeds: dict[str, list[str]] = {}
            used: dict[str, set[str]] = {}
            for target, output in new.items():
                by_source = output.template.fields_by_source()
                for name, secret in output.spec.sources:
                    feeds.setdefault(secret, []).append(target)
                    used.setdefault(secret, set()).update(by_source.get(name, ()))
            refetch: set[str] = set()
            kept: dict[str, _Kept] = {}
            for secret, names in used.items():
                had = self._kept.get(secret)
                same_secret = self._sources.get(secret) == by_target.get(secret)
                if had is None or not same_secret or not names <= self._used.get(secret, set()):
                    refetch.add(secret)
                    continue
                kept[secret] = _Kept(
                    None
                    if had.fields is None
                    else {k: v for k, v in had.fields.items() if k in names}
                )
            self._outputs = new
            self._feeds = feeds
            self._used = {secret: frozenset(names) for secret, names in used.items()}
            self._sources = {t: by_target[t] for t in feeds if t in by_target}
            self._kept = kept
            self._dirty = {t for t in self._dirty if t in new and not self._waiting(new[t])}
            for output in new.values():
                self._waiting(output)
            return removed, refetch & set(by_target)

    def feeds(self, secret: str) -> bool:
        """True if ``secret`` (a ``[[secrets]]`` target) feeds a template output."""
        return secret in self._feeds

    def offer(self, secret: str, data: SecretData) -> None:
        """Keep the used fields of ``secret``'s fetched ``data``; mark the outputs it feeds
        for a render if they changed."""
        outputs = self._feeds.get(secret)
        if not outputs:
            return
        with self._lock:
            names = self._used.get(secret, frozenset())
            fields = data.fields
            kept = _Kept(None if fields is None else {k: fields[k] for k in names if k in fields})
            if self._kept.get(secret) == kept:
                return
            self._kept[secret] = kept
            for target in self._feeds.get(secret, ()):
                output = self._outputs.get(target)
                if output is not None and not self._waiting(output):
                    self._dirty.add(target)

    def render_due(self, writer: SecretWriter, now: float) -> list[Rendered]:
        """Render and write every output whose inputs changed (each has data from every
        source: an output still waiting is never in this set, so this costs O(outputs to
        render))."""
        if not self._dirty:
            return []
        with self._lock:
            due, self._dirty = sorted(self._dirty), set()
            return [self._render(self._outputs[target], writer, now) for target in due]

    def ready(self) -> bool:
        """True once every output has been written (or found current) at least once."""
        with self._lock:
            return all(o.state.rendered_at is not None for o in self._outputs.values())

    def states(self) -> list[TemplateState]:
        """Copies of every output's state, in config order."""
        with self._lock:
            return [_copy(o.state) for o in self._outputs.values()]

    def status_entries(self) -> list[dict[str, object]]:
        """Every output's ``.status.json`` entry, in config order (never a value)."""
        with self._lock:
            return [o.state.entry() for o in self._outputs.values()]

    # -- internals (lock held) -----------------------------------------------------------

    def _waiting(self, output: _Output) -> bool:
        waiting = [name for name, secret in output.spec.sources if secret not in self._kept]
        output.state.waiting_for = waiting
        return bool(waiting)

    def _render(self, output: _Output, writer: SecretWriter, now: float) -> Rendered:
        from secrets_agent.writer.writer import WriteError

        spec, state = output.spec, output.state
        sources = {name: self._kept[secret].fields for name, secret in spec.sources}
        try:
            content = render_output(spec, sources)
            changed = writer.write(
                spec.target, content, mode=spec.mode, uid=spec.owner, gid=spec.group
            )
        except RenderError as exc:
            return self._failed(output, f"render failed: {exc}")
        except (WriteError, OSError, ValueError) as exc:
            self._dirty.add(spec.target)  # same data, another try with the next fetch
            return self._failed(output, f"write failed: {exc}")
        state.files = [spec.target]
        state.rendered_at = now
        state.last_error = None
        state.consecutive_failures = 0
        if changed:
            state.changed_at = now
            log.info("updated template output %s", spec.target)
        values = tuple(str(v) for f in sources.values() if f for v in f.values())
        return Rendered(spec, ok=True, changed=changed, values=values)

    def _failed(self, output: _Output, error: str) -> Rendered:
        state = output.state
        state.last_error = error
        state.consecutive_failures += 1
        state.errors_total += 1
        log.warning(
            "template output %s not written (last good file kept): %s", output.spec.target, error
        )
        return Rendered(output.spec, ok=False, changed=False, error=error)


def run_commands(rendered: Sequence[Rendered], *, timeout: float, output_dir: str) -> None:
    """Run the ``on_change`` command of every output whose file changed, in order."""
    from secrets_agent.daemon.onchange import run_on_change

    for r in rendered:
        if r.changed and r.spec.on_change:
            run_on_change(
                r.spec.on_change,
                timeout=timeout,
                label=r.spec.target,
                secret_values=r.values,
                extra_env={
                    "SECRETS_AGENT_TARGET": r.spec.target,
                    "SECRETS_AGENT_OUTPUT_DIR": output_dir,
                },
            )


def _copy(state: TemplateState) -> TemplateState:
    return copy.deepcopy(state)
