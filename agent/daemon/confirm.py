"""Refreshes without a read: secrets the source confirms are still at the version written.

A source that can tell cheaply that a secret still holds the version the agent last wrote
(Vault KV v2 on OpenBao, one directory listing for many secrets: ``sources.vault.listing``)
saves the read, the render and the comparison with the files. A due secret is confirmed, and
counts as refreshed, only when all of this holds:

* its last refresh read it and succeeded, and recorded the version's stamp
  (``SecretState.stamp``) and its files' identity (``SecretState.files_mark``);
* it is a KV secret without a version stage that feeds no template;
* its files are still exactly the ones the agent wrote (``SecretWriter.identity``: inode,
  change time, size, mode, owner, links); a file changed, chmod-ed, replaced or removed by
  anyone makes the secret be read and written again, as before;
* the source's evidence is at most ``EVIDENCE_SHARE`` of the secret's interval old: never
  older than the +-10 % jitter its schedule already has;
* it was read within its last ``READ_EVERY`` refreshes: a secret is still read about once an
  hour at the 5-minute default, so what only a read shows (a token that lost ``read`` but
  kept ``list``) is seen within that time.

Everything else (and every secret of the outage probe) is read. A change made to the secret
after the evidence was taken is seen at the secret's next refresh (within one interval and a
tenth, where a read would have seen it within one interval).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from secrets_agent.config.load import SecretSpec
    from secrets_agent.daemon.state import SecretState
    from secrets_agent.sources.base import SecretSource
    from secrets_agent.writer.writer import SecretWriter

__all__ = ["EVIDENCE_SHARE", "READ_EVERY", "confirm_unchanged", "confirmable"]

EVIDENCE_SHARE = 0.1
READ_EVERY = 12  # refreshes: at most this many in a row are confirmed without a read


def confirmable(spec: SecretSpec, state: SecretState) -> bool:
    """True if ``state`` allows confirming ``spec`` without a read (see the module docstring;
    the files are checked separately)."""
    return (
        spec.kind == "kv"
        and spec.version_stage is None
        and state.stamp is not None
        and state.files_mark is not None
        and state.last_error is None
        and not state.missing
        and state.confirmations < READ_EVERY - 1
    )


def confirm_unchanged(
    source: SecretSource,
    writer: SecretWriter,
    specs: Sequence[SecretSpec],
    *,
    state_of: Callable[[str], SecretState | None],
    feeds_template: Callable[[str], bool],
) -> set[str]:
    """The targets of ``specs`` that need no read (see the module docstring)."""
    known: dict[str, int] = {}
    candidates: list[tuple[SecretSpec, SecretState]] = []
    max_age = float("inf")
    for spec in specs:
        state = state_of(spec.target)
        if state is None or not confirmable(spec, state) or feeds_template(spec.target):
            continue
        assert state.stamp is not None
        if known.setdefault(spec.path, state.stamp) != state.stamp:
            continue  # two targets of one path written from different versions: read
        candidates.append((spec, state))
        max_age = min(max_age, EVIDENCE_SHARE * spec.refresh_interval)
    if not candidates:
        return set()
    same = source.unchanged(known, max_age=max_age)
    if not same:
        return set()
    return {
        spec.target
        for spec, state in candidates
        if spec.path in same
        and known[spec.path] == state.stamp
        and writer.identity(state.files) == state.files_mark
    }
