"""One refresh of one secret: render, write, update its state.

``refresh`` is a plain function of its inputs (the fetched outcome, the writer, the state and the
time), so tests call it directly with a fake clock. When the secret runs next is not its
business: that is ``daemon.policy``, applied by ``daemon.table``. A failure of any kind
leaves the files on disk exactly as they were; only a successful render replaces them. A secret
that switches between one file and a directory of fields (an AWS secret that was a plain string
and is now a JSON object, or the reverse) is swapped whole (``SecretWriter.reshape``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from secrets_agent.daemon.state import SecretState
from secrets_agent.render.errors import RenderError
from secrets_agent.sources.result import (
    BackendUnavailableError,
    SecretData,
    SecretMissingError,
    SourceError,
    Unchanged,
)

if TYPE_CHECKING:
    from secrets_agent.config.load import SecretSpec
    from secrets_agent.writer.writer import SecretWriter

log = logging.getLogger(__name__)

RenderFunc = Callable[["SecretSpec", SecretData], Mapping[str, bytes]]


@dataclass(frozen=True)
class RefreshResult:
    """What one refresh did. ``changed`` means at least one file was written or removed;
    ``retry_after`` is the backend's hint after a throttled fetch; ``confirmed``: the source
    confirmed the secret unchanged without a read (``daemon.confirm``)."""

    ok: bool
    changed: bool
    error: str | None = None
    missing: bool = False
    written: tuple[str, ...] = ()
    retry_after: float | None = None
    confirmed: bool = False


def _default_render(spec: SecretSpec, data: SecretData) -> Mapping[str, bytes]:
    from secrets_agent.render.formats import render

    return render(spec, data)


def refresh(
    spec: SecretSpec,
    outcome: SecretData | SourceError | Unchanged,
    writer: SecretWriter,
    state: SecretState,
    *,
    now: float,
    fetch_seconds: float | None = None,
    render: RenderFunc | None = None,
) -> RefreshResult:
    """Apply one fetched ``outcome`` for ``spec``; mutate ``state``; return what happened.

    Never raises for a backend, render or write problem: those become a failed result with an
    error text (no values), a counted failure in ``state``, and untouched files (the table logs
    the failure with its next try).
    """
    state.last_attempt_at = now
    if fetch_seconds is not None:
        state.fetch_seconds = fetch_seconds
    if isinstance(outcome, Unchanged):  # confirmed without a read (``daemon.confirm``)
        state.fetched_at = now
        state.confirmations += 1
        log.debug("%s unchanged (version %s, confirmed without a read)", spec.target, state.version)
        return RefreshResult(ok=True, changed=False, confirmed=True)
    if isinstance(outcome, SourceError):
        missing = isinstance(outcome, SecretMissingError)
        if missing:
            state.missing = True
        retry_after = outcome.retry_after if isinstance(outcome, BackendUnavailableError) else None
        return _failed(spec, state, str(outcome), retry_after=retry_after, missing=missing)
    try:
        files = dict((render or _default_render)(spec, outcome))
    except RenderError as exc:
        return _failed(spec, state, f"render failed: {exc}")
    return _write(spec, outcome, files, writer, state, now=now)


def _write(
    spec: SecretSpec,
    data: SecretData,
    files: dict[str, bytes],
    writer: SecretWriter,
    state: SecretState,
    *,
    now: float,
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
            written = writer.write_files(
                files, mode=spec.mode, uid=spec.owner, gid=spec.group, old=state.files
            )
    except (WriteError, OSError) as exc:
        state.files = sorted(set(state.files) | set(written))
        return _failed(spec, state, f"write failed: {exc}")
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
    # What a later refresh needs to confirm the secret without a read (``daemon.confirm``).
    state.stamp = data.stamp
    state.confirmations = 0
    state.files_mark = None if data.stamp is None else writer.identity(state.files)
    if changed:
        state.changed_at = now
        log.info("updated %s (version %s, %d file(s))", spec.target, data.version, len(written))
    else:
        log.debug("%s unchanged (version %s)", spec.target, data.version)
    return RefreshResult(ok=True, changed=changed, written=tuple(written))


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
    *,
    retry_after: float | None = None,
    missing: bool = False,
) -> RefreshResult:
    state.last_error = error
    state.consecutive_failures += 1
    state.errors_total += 1
    return RefreshResult(
        ok=False, changed=False, error=error, missing=missing, retry_after=retry_after
    )
