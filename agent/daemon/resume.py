"""Pick up where a previous agent run left off, from its ``.status.json``.

At start-up the agent reads the status file of the previous run (files in ``/run`` survive an
agent restart): secrets still configured whose files are all present count as already in place
(so a restart during a backend outage still becomes ready; a leased secret keeps its lease, which
is then renewed instead of replaced), and the files of secrets that are no
longer configured are removed. Only paths listed in the status file, which only agents write,
are ever removed, and only when the file is the same agent's:

* The status file records the identity of the agent that wrote it: its config file's path
  (``secrets_agent.status.config_identity``). Agents started with the same config file (an init
  container and a sidecar sharing one) are one agent: either may adopt and prune.
* A status file of another identity (another config sharing the ``output_dir``) is left alone:
  nothing is adopted or removed; a warning names that config, and the targets both configure
  (two agents writing one target overwrite each other's files). A status file written before
  identities were recorded is adopted but never pruned from.
* The same config edited between two starts prunes the targets it dropped, as long as it still
  shares a secret with the previous run: a status file of the same path that shares none is
  more likely another config mounted at the same path than an edit, so its files stay (with a
  warning naming them).
"""

from __future__ import annotations

import logging
import stat
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from secrets_agent.daemon.leases import restore_lease
from secrets_agent.writer.paths import relpath_problem

if TYPE_CHECKING:
    from secrets_agent.daemon.table import SecretTable
    from secrets_agent.writer.writer import SecretWriter

log = logging.getLogger(__name__)


def _entries(status: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    secrets = status.get("secrets")
    if isinstance(secrets, dict):
        secrets = [
            dict(v, target=v.get("target", k)) for k, v in secrets.items() if isinstance(v, dict)
        ]
    if isinstance(secrets, list):
        for entry in secrets:
            if isinstance(entry, dict) and isinstance(entry.get("target"), str):
                yield entry


def _files(entry: Mapping[str, Any]) -> list[str]:
    files = entry.get("files")
    if not isinstance(files, list):
        return []
    return [f for f in files if isinstance(f, str) and relpath_problem(f) is None]


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _present(root: Path, relpath: str) -> bool:
    try:
        st = (root / relpath).lstat()
    except OSError:
        return False
    return stat.S_ISREG(st.st_mode)


def adopt_previous_status(
    writer: SecretWriter, table: SecretTable, *, identity: str | None = None
) -> None:
    """Seed ``table`` from the previous run and prune the files of dropped secrets, if the
    previous run was the agent of ``identity`` (see the module docstring)."""
    try:
        from secrets_agent.status import read_status

        status = read_status(writer.output_dir)
    except Exception as exc:  # absent, unreadable or from an incompatible version
        log.debug("no usable previous status: %s", type(exc).__name__)
        return
    if not isinstance(status, Mapping):
        return
    entries = list(_entries(status))
    info = status.get("agent")
    recorded = info.get("config", _LEGACY) if isinstance(info, Mapping) else _LEGACY
    dropped = [e for e in entries if table.spec(e["target"]) is None]
    if recorded is not _LEGACY and recorded != identity:
        _leave_foreign(writer, table, entries, other=recorded, ours=identity)
        return
    prune = recorded is not _LEGACY and len(dropped) < len(entries)
    if recorded is not _LEGACY and dropped and not prune:
        names = ", ".join(sorted(e["target"] for e in dropped)[:10])
        log.warning(
            "%s: the previous status of this config shares no secret with it, so it may be"
            " another config at the same path: not removing the files of %d secret(s) it"
            " lists (%s); remove them by hand if they are this agent's",
            writer.output_dir,
            len(dropped),
            names,
        )
    for entry in entries:
        target = entry["target"]
        files = _files(entry)
        spec = table.spec(target)
        if spec is None:
            if prune:
                _remove(writer, target, files)
            continue
        if entry.get("path") != spec.path or not files:
            continue
        if not all(_present(Path(writer.output_dir), f) for f in files):
            continue
        version = entry.get("version")
        table.adopt(
            target,
            files=files,
            version=version if isinstance(version, str) else None,
            fetched_at=_number(entry.get("fetched_at")),
            changed_at=_number(entry.get("changed_at")),
            lease=restore_lease(entry) if spec.kind == "lease" else None,
        )


_LEGACY = object()  # a status file without ``agent.config`` (written before identities)


def _leave_foreign(
    writer: SecretWriter,
    table: SecretTable,
    entries: list[dict[str, Any]],
    *,
    other: object,
    ours: str | None,
) -> None:
    shared = sorted(e["target"] for e in entries if table.spec(e["target"]) is not None)
    log.warning(
        "%s was last written by the agent with config %s, not by this one (config %s): its"
        " files are left alone; agents sharing an output_dir overwrite each other's"
        " .status.json, so give each its own output_dir",
        writer.output_dir,
        other,
        ours,
    )
    if shared:
        log.warning(
            "%d target(s) are configured here and by the agent with config %s: %s; two agents"
            " writing one target overwrite each other's files: give each target to one agent",
            len(shared),
            other,
            ", ".join(shared[:10]),
        )


def _remove(writer: SecretWriter, target: str, files: list[str]) -> None:
    for relpath in files:
        try:
            if writer.remove(relpath):
                log.info("removed %s (secret %s is no longer configured)", relpath, target)
        except Exception as exc:
            log.warning("could not remove %s: %s", relpath, exc)
