"""``<output_dir>/.status.json``: non-secret per-secret state, and its human rendering.

The file is written atomically through the :class:`SecretWriter` with mode 0640: it holds no
value, but error texts, paths and versions are nobody else's business, so only the agent's own
user and group (operators) may read it. Layout::

    {"format": 1, "written_at": <unix time>,
     "agent": {"pid": ..., "started_at": ..., "backend": ..., "healthy": ..., ...},
     "secrets": [{"target": ..., "path": ..., "version": ..., "fetched_at": ...,
                  "changed_at": ..., "last_attempt_at": ..., "next_refresh_at": ...,
                  "last_error": ..., "consecutive_failures": ..., "errors_total": ...,
                  "fetch_seconds": ..., "missing": ..., "files": [...],
                  "lease_id": ..., "lease_expires_at": ..., "replace_at": ..., ...}, ...],
     "templates": [{"target": ..., "sources": {"db": "<secret target>", ...},
                    "waiting_for": [...], "rendered_at": ..., "changed_at": ...,
                    "last_error": ..., "consecutive_failures": ..., "errors_total": ...,
                    "files": [...]}, ...]}

``templates`` (present when ``[[templates]]`` outputs are configured) comes from
``daemon.templates``: each output's sources, the sources it still waits for (nothing is written
before every source has data) and its own last error.

``agent`` holds whatever the daemon passes as ``agent_info`` (paths become strings); the daemon's
includes ``reload_error``: ``null``, or the problems of the last rejected config (key paths and
what is wrong, never values) until a reload succeeds, and ``config``: the agent's identity
(``config_identity``), which decides whose files a later start may prune
(``secrets_agent.daemon.resume``).
"""

from __future__ import annotations

import json
import os
import stat
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from secrets_agent.daemon.state import SecretState
from secrets_agent.durations import format_duration
from secrets_agent.writer.writer import SecretWriter

STATUS_FILE = ".status.json"
_COMPACT = (",", ":")
STATUS_MODE = 0o640
FORMAT_VERSION = 1
_STATE_KEYS = (
    "target",
    "path",
    "version",
    "fetched_at",
    "changed_at",
    "last_attempt_at",
    "next_refresh_at",
    "last_error",
    "consecutive_failures",
    "errors_total",
    "fetch_seconds",
    "missing",
    "files",
)
# Only in the entry of a secret that holds a lease or certificate (``daemon.leases``): the lease
# id, never the secret, so that a restart renews the lease instead of replacing it.
_LEASE_KEYS = (
    "lease_id",
    "lease_started_at",
    "lease_duration",
    "lease_expires_at",
    "lease_renewable",
    "lease_final",
    "replace_at",
)


class StatusError(ValueError):
    """The status file exists but is not a status document (corrupt, wrong type, too big)."""


def config_identity(source: Path | None) -> str | None:
    """The identity of the agent started with config file ``source``: its absolute path, ``..``
    collapsed but symlinks not followed (a Kubernetes ConfigMap file is a symlink whose target
    changes at every update, and an edited config is still the same agent). ``None`` for a
    config that did not come from a file."""
    return None if source is None else os.path.normpath(Path(source).absolute())


def state_entry(state: SecretState) -> dict[str, object]:
    """The JSON object for one secret (never a value: ``SecretState`` holds none)."""
    entry: dict[str, object] = {key: getattr(state, key) for key in _STATE_KEYS}
    entry["files"] = list(state.files)
    if state.lease_id is not None or state.lease_expires_at is not None:
        entry.update((key, getattr(state, key)) for key in _LEASE_KEYS)
    return entry


def entry_json(state: SecretState) -> str:
    """One secret's entry as a line of compact JSON (the daemon caches these per secret:
    10,000 secrets keep ~3 MiB of them)."""
    return json.dumps(state_entry(state), default=str, ensure_ascii=False, separators=_COMPACT)


def status_document(
    states: Iterable[SecretState],
    agent_info: Mapping[str, object],
    *,
    now: float | None = None,
    templates: Sequence[Mapping[str, object]] = (),
) -> dict[str, object]:
    """The whole status document as a JSON-ready dict."""
    document: dict[str, object] = {
        "format": FORMAT_VERSION,
        "written_at": time.time() if now is None else now,
        "agent": dict(agent_info),
        "secrets": [state_entry(s) for s in states],
    }
    if templates:
        document["templates"] = [dict(t) for t in templates]
    return document


def status_text(
    entries: Iterable[str],
    agent_info: Mapping[str, object],
    *,
    now: float | None = None,
    templates: Sequence[Mapping[str, object]] = (),
) -> str:
    """The status file's text from entries made by ``entry_json`` (one line per secret) and
    the entries of template outputs (one line each)."""
    head = status_document((), agent_info, now=now)
    del head["secrets"]
    text = json.dumps(head, indent=2, default=str, ensure_ascii=False)
    body = ",\n    ".join(entries)
    secrets = f'"secrets": [\n    {body}\n  ]' if body else '"secrets": []'
    if templates:
        lines = (json.dumps(t, default=str, ensure_ascii=False) for t in templates)
        secrets += ',\n  "templates": [\n    ' + ",\n    ".join(lines) + "\n  ]"
    return f"{text[:-2]},\n  {secrets}\n}}\n"


def write_status(
    writer: SecretWriter,
    states: Iterable[SecretState],
    agent_info: Mapping[str, object],
    *,
    now: float | None = None,
) -> None:
    """Atomically (re)write ``.status.json`` in the writer's ``output_dir`` (mode 0640)."""
    write_status_text(writer, status_text((entry_json(s) for s in states), agent_info, now=now))


def write_status_text(writer: SecretWriter, text: str) -> None:
    """Atomically replace ``.status.json`` with ``text`` (made by ``status_text``)."""
    writer.write_dotfile(STATUS_FILE, text.encode("utf-8"), mode=STATUS_MODE)


def read_status(output_dir: Path) -> dict[str, object]:
    """Read ``<output_dir>/.status.json`` (never following a symlink).

    Raises ``FileNotFoundError`` when there is none, ``OSError`` when it cannot be read, and
    ``StatusError`` when it is not a status document.
    """
    path = Path(output_dir) / STATUS_FILE
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size > 64 * 1024 * 1024:
            raise StatusError(f"{path}: not a regular file of a sensible size")
        with os.fdopen(fd, "rb", closefd=False) as handle:
            raw = handle.read()
    finally:
        os.close(fd)
    try:
        document = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise StatusError(f"{path}: not valid JSON") from None
    if not isinstance(document, dict) or not isinstance(document.get("secrets", []), list):
        raise StatusError(f"{path}: not a status document")
    return document


def _num(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _ago(then: object, now: float) -> str:
    when = _num(then)
    return "never" if when is None else format_duration(max(0.0, now - when))


def _next(then: object, now: float) -> str:
    when = _num(then)
    if when is None:
        return "-"
    delta = when - now
    return f"in {format_duration(delta)}" if delta >= 0 else f"overdue {format_duration(-delta)}"


def _error(entry: Mapping[str, Any]) -> str:
    parts: list[str] = []
    error = entry.get("last_error")
    if entry.get("missing"):
        # The error says what is not found: the secret, a field, or a version with the stage.
        if not error:
            parts.append("missing in backend (file kept)")
        elif entry.get("files"):
            parts.append("file kept")
    if error:
        text = " ".join(str(error).split())
        failures = entry.get("consecutive_failures")
        if isinstance(failures, int) and failures > 1:
            text += f" ({failures} failures in a row)"
        parts.append(text)
    return "; ".join(parts) or "-"


def _template_row(entry: Mapping[str, Any], now: float) -> tuple[str, str, str, str, str]:
    """A template output's row: its sources in the version column, never a value."""
    sources = entry.get("sources")
    names = ",".join(f"{k}={v}" for k, v in sources.items()) if isinstance(sources, dict) else ""
    waiting = entry.get("waiting_for")
    error = _error(entry)
    if isinstance(waiting, list) and waiting:
        wait = "waiting for source(s) " + ", ".join(str(w) for w in waiting) + " (nothing written)"
        error = wait if error == "-" else f"{wait}; {error}"
    return (
        f"{entry.get('target', '?')} (template)",
        f"from {names}" if names else "-",
        _ago(entry.get("rendered_at"), now),
        "with its sources",
        error,
    )


def format_status(status: Mapping[str, object], *, now: float) -> str:
    """A human table: one header line about the agent, then target, version, age, next
    refresh and last error for each secret. Never a value (the document holds none)."""
    agent = status.get("agent")
    info: Mapping[str, Any] = agent if isinstance(agent, Mapping) else {}
    healthy = info.get("healthy")
    head = [
        f"agent pid {info.get('pid', '?')}",
        f"backend {info.get('backend', '?')}",
        "healthy" if healthy else ("UNHEALTHY" if healthy is not None else "health unknown"),
        f"started {_ago(info.get('started_at'), now)} ago",
        f"status written {_ago(status.get('written_at'), now)} ago",
    ]
    if info.get("config"):
        head.append(f"config {info['config']}")
    reload_error = info.get("reload_error")
    if isinstance(reload_error, list) and reload_error:
        problems = "; ".join(" ".join(str(p).split()) for p in reload_error)
        head.append(f"RELOAD FAILED (previous config in force): {problems}")
    rows: list[tuple[str, ...]] = [("TARGET", "VERSION", "AGE", "NEXT REFRESH", "LAST ERROR")]
    secrets = status.get("secrets")
    for entry in secrets if isinstance(secrets, list) else []:
        if not isinstance(entry, Mapping):
            continue
        version = entry.get("version")
        rows.append(
            (
                str(entry.get("target", "?")),
                "-" if version is None else str(version),
                _ago(entry.get("fetched_at"), now),
                _next(entry.get("next_refresh_at"), now),
                _error(entry),
            )
        )
    rows = _with_leases(rows, secrets if isinstance(secrets, list) else [], now)
    leased = len(rows[0]) > 5
    templates = status.get("templates")
    for entry in templates if isinstance(templates, list) else []:
        if isinstance(entry, Mapping):
            row: tuple[str, ...] = _template_row(entry, now)
            rows.append((*row[:4], "-", row[4]) if leased else row)
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    lines = [", ".join(head)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row[:-1], widths, strict=True)]
        lines.append("  ".join([*cells, row[-1]]).rstrip())
    return "\n".join(lines) + "\n"


def _with_leases(
    rows: list[tuple[str, ...]], entries: list[object], now: float
) -> list[tuple[str, ...]]:
    """Insert a LEASE column (when it ends, when it is replaced) if any secret holds one."""
    leases = [
        _lease(e, now) if isinstance(e, Mapping) else "-" for e in entries if isinstance(e, Mapping)
    ]
    if all(text == "-" for text in leases):
        return rows
    out = [(*rows[0][:4], "LEASE", rows[0][4])]
    out.extend((*row[:4], lease, row[4]) for row, lease in zip(rows[1:], leases, strict=True))
    return out


def _lease(entry: Mapping[str, Any], now: float) -> str:
    expires = _num(entry.get("lease_expires_at"))
    if expires is None:
        return "-"
    delta = expires - now
    text = f"ends in {format_duration(delta)}" if delta >= 0 else "ended"
    replace = _num(entry.get("replace_at"))
    if replace is not None:
        text += f", replaced {_next(replace, now)}"
    return text
