"""One refresh of one secret: render, write, update its state, decide when to run next.

``refresh`` is a plain function of its inputs (the fetched outcome, the writer, the state, the
time and a random source), so tests call it directly with a fake clock. A failure of any kind
leaves the files on disk exactly as they were; only a successful render replaces them. A secret
that switches between one file and a directory of fields (an AWS secret that was a plain string
and is now a JSON object, or the reverse) is swapped whole (``SecretWriter.reshape``).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from secrets_agent.daemon.backoff import failure_delay, first_refresh_delay, jittered_interval
from secrets_agent.daemon.state import SecretState
from secrets_agent.render.errors import RenderError
from secrets_agent.sources.result import (
    BackendUnavailableError,
    SecretData,
    SecretMissingError,
    SourceError,
)

if TYPE_CHECKING:
    from secrets_agent.config.load import SecretSpec
    from secrets_agent.writer.writer import SecretWriter

log = logging.getLogger(__name__)

RenderFunc = Callable[["SecretSpec", SecretData], Mapping[str, bytes]]


@dataclass(frozen=True)
class RefreshResult:
    """What one refresh did. ``changed`` means at least one file was written or removed."""

    ok: bool
    changed: bool
    next_run_at: float
    error: str | None = None
    missing: bool = False
    written: tuple[str, ...] = ()


def _default_render(spec: SecretSpec, data: SecretData) -> Mapping[str, bytes]:
    from secrets_agent.render.formats import render

    return render(spec, data)


def refresh(
    spec: SecretSpec,
    outcome: SecretData | SourceError,
    writer: SecretWriter,
    state: SecretState,
    *,
    now: float,
    rng: random.Random,
    fetch_seconds: float | None = None,
    render: RenderFunc | None = None,
    first: bool | None = None,
) -> RefreshResult:
    """Apply one fetched ``outcome`` for ``spec``; mutate ``state``; return what happened.

    After a success the next refresh is one jittered interval away, or, when ``first`` (the
    secret's first successful fetch in this process; by default: it was never fetched), a
    delay drawn over most of the interval (``backoff.first_refresh_delay``).
    Never raises for a backend, render or write problem: those become a failed result with an
    error text (no values), exponential backoff, and untouched files.
    """
    state.last_attempt_at = now
    if fetch_seconds is not None:
        state.fetch_seconds = fetch_seconds
    if isinstance(outcome, SourceError):
        missing = isinstance(outcome, SecretMissingError)
        if missing:
            state.missing = True
        retry_after = outcome.retry_after if isinstance(outcome, BackendUnavailableError) else None
        return _failed(
            spec, state, str(outcome), now, rng, retry_after=retry_after, missing=missing
        )
    try:
        files = dict((render or _default_render)(spec, outcome))
    except RenderError as exc:
        return _failed(spec, state, f"render failed: {exc}", now, rng)
    if first is None:
        first = state.fetched_at is None
    return _write(spec, outcome, files, writer, state, now=now, rng=rng, first=first)


def _write(
    spec: SecretSpec,
    data: SecretData,
    files: dict[str, bytes],
    writer: SecretWriter,
    state: SecretState,
    *,
    now: float,
    rng: random.Random,
    first: bool,
) -> RefreshResult:
    from secrets_agent.writer.writer import WriteError

    written: list[str] = []
    reshaped: set[str] = set()
    try:
        if _shape_changes(spec.target, state.files, files):
            writer.reshape(
                spec.target, files, old=state.files, mode=spec.mode, uid=spec.owner, gid=spec.group
            )
            written = sorted(files)
            reshaped = {f for f in state.files if _under(spec.target, f)}
            log.debug("%s changed shape (file <-> directory of fields)", spec.target)
        else:  # all or nothing: a failure leaves every file of the secret as it was
            written = writer.write_files(files, mode=spec.mode, uid=spec.owner, gid=spec.group)
    except (WriteError, OSError) as exc:
        state.files = sorted(set(state.files) | set(written))
        return _failed(spec, state, f"write failed: {exc}", now, rng)
    removed = []
    for stale in sorted(set(state.files) - set(files) - reshaped):
        try:
            if writer.remove(stale):
                removed.append(stale)
        except (WriteError, OSError) as exc:
            log.warning("could not remove %s (no longer part of %s): %s", stale, spec.target, exc)
    changed = bool(written or removed)
    state.files = sorted(files)
    state.version = data.version
    state.fetched_at = now
    state.missing = False
    state.last_error = None
    state.consecutive_failures = 0
    if changed:
        state.changed_at = now
        log.info("updated %s (version %s, %d file(s))", spec.target, data.version, len(written))
    else:
        log.debug("%s unchanged (version %s)", spec.target, data.version)
    interval = spec.refresh_interval
    delay = first_refresh_delay(interval, rng) if first else jittered_interval(interval, rng)
    next_run = now + delay
    state.next_refresh_at = next_run
    return RefreshResult(ok=True, changed=changed, next_run_at=next_run, written=tuple(written))


def _under(target: str, relpath: str) -> bool:
    return relpath == target or relpath.startswith(target + "/")


def _shape_changes(target: str, old: Sequence[str], new: Mapping[str, bytes]) -> bool:
    """True if ``target`` switches between one file and a directory of fields (both the old
    and the new files are the agent's, so the old ones may be replaced)."""
    prefix = target + "/"
    if target in new:
        return any(f.startswith(prefix) for f in old)
    return target in old and any(f.startswith(prefix) for f in new)


def _failed(
    spec: SecretSpec,
    state: SecretState,
    error: str,
    now: float,
    rng: random.Random,
    *,
    retry_after: float | None = None,
    missing: bool = False,
) -> RefreshResult:
    state.last_error = error
    state.consecutive_failures += 1
    state.errors_total += 1
    delay = failure_delay(
        state.consecutive_failures, spec.refresh_interval, rng, retry_after=retry_after
    )
    next_run = now + delay
    state.next_refresh_at = next_run
    log.warning(
        "refresh of %s failed (%d in a row), next try in %.1fs: %s",
        spec.target,
        state.consecutive_failures,
        delay,
        error,
    )
    return RefreshResult(
        ok=False, changed=False, next_run_at=next_run, error=error, missing=missing
    )
