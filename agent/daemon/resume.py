"""Pick up where a previous agent run left off, from its ``.status.json``.

At start-up the agent reads the status file of the previous run (files in ``/run`` survive an
agent restart): secrets still configured whose files are all present count as already in place
(so a restart during a backend outage still becomes ready; a leased secret keeps its lease, which
is then renewed instead of replaced), and the files of secrets that are no
longer configured are removed. Only paths listed in the status file, which only the agent
writes, are ever removed.
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


def adopt_previous_status(writer: SecretWriter, table: SecretTable) -> None:
    """Seed ``table`` from the previous run and prune the files of dropped secrets."""
    try:
        from secrets_agent.status import read_status

        status = read_status(writer.output_dir)
    except Exception as exc:  # absent, unreadable or from an incompatible version
        log.debug("no usable previous status: %s", type(exc).__name__)
        return
    if not isinstance(status, Mapping):
        return
    for entry in _entries(status):
        target = entry["target"]
        files = _files(entry)
        spec = table.spec(target)
        if spec is None:
            for relpath in files:
                try:
                    if writer.remove(relpath):
                        log.info("removed %s (secret %s is no longer configured)", relpath, target)
                except Exception as exc:
                    log.warning("could not remove %s: %s", relpath, exc)
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
