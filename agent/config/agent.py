"""The ``[agent]`` table: where and how files are written, and the rule for file modes.

* ``output_dir`` and ``metrics_file`` are absolute; ``metrics_file`` is outside ``output_dir``,
  compared with both paths resolved (``..`` and symlinks), not as text.
* ``max_fields`` and ``max_bytes`` are the defaults of every ``[[secrets]]`` entry's limits.
* Files: no write or execute bit for group or others, and no bit at all for others unless
  ``allow_world_readable = true``. ``dir_mode``: owner ``rwx`` required, no write bit for
  group or others, others only with ``allow_world_readable``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from secrets_agent.config.schema import DEFAULT_MAX_BYTES, DEFAULT_MAX_FIELDS, AgentSettings
from secrets_agent.config.tables import Problems, Table

MAX_FIELDS_LIMIT = 100_000
MAX_BYTES_LIMIT = 1 << 30


def file_mode_problem(mode: int, world_ok: bool) -> str | None:
    """Why ``mode`` is not allowed for a secret file, or ``None``."""
    if mode & 0o033:
        return "group/others may not write or execute secret files"
    if mode & 0o004 and not world_ok:
        return "others may not read secret files (set [agent] allow_world_readable = true)"
    return None


def parse_agent(data: Mapping[str, object], problems: Problems) -> AgentSettings | None:
    t = Table(data, "agent", problems)
    output_dir = t.abs_path("output_dir", required=True)
    world_ok = t.boolean("allow_world_readable", False)
    file_mode = t.mode("file_mode")
    if file_mode is not None and (msg := file_mode_problem(file_mode, world_ok)):
        t.problem("file_mode", msg)
    dir_mode = t.mode("dir_mode")
    if dir_mode is not None:
        if dir_mode & 0o700 != 0o700:
            t.problem("dir_mode", "the owner (the agent) needs rwx on its directories")
        elif dir_mode & 0o022:
            t.problem("dir_mode", "group/others may not write to the output directory")
        elif dir_mode & 0o007 and not world_ok:
            t.problem("dir_mode", "others may not enter the directory (allow_world_readable)")
    metrics_file = t.abs_path("metrics_file")
    if metrics_file and output_dir and inside(metrics_file, output_dir):
        t.problem("metrics_file", "must be outside output_dir")
    settings = AgentSettings(
        output_dir=output_dir or Path("/"),
        refresh_interval=t.duration("refresh_interval", 300.0) or 300.0,
        file_mode=0o400 if file_mode is None else file_mode,
        dir_mode=0o700 if dir_mode is None else dir_mode,
        owner=t.principal("owner", group=False),
        group=t.principal("group", group=True),
        metrics_file=metrics_file,
        allow_non_tmpfs=t.boolean("allow_non_tmpfs", False),
        concurrency=t.integer("concurrency", 8, 1, 64),
        on_change_timeout=t.duration("on_change_timeout", 30.0) or 30.0,
        allow_world_readable=world_ok,
        max_fields=t.integer("max_fields", DEFAULT_MAX_FIELDS, 1, MAX_FIELDS_LIMIT),
        max_bytes=t.integer("max_bytes", DEFAULT_MAX_BYTES, 1, MAX_BYTES_LIMIT),
        refuse_unsafe_files=t.boolean("refuse_unsafe_files", False),
        outage_probe_max=t.duration("outage_probe_max", None),
        catch_up_window=t.duration("catch_up_window", None, positive=False),
    )
    t.finish()
    return settings if output_dir is not None else None


def inside(path: Path, directory: Path) -> bool:
    """True if ``path`` is ``directory`` or below it once both are resolved (``..`` collapsed
    after the symlinks before it are followed; missing parts are taken as they are)."""
    return Path(os.path.realpath(path)).is_relative_to(os.path.realpath(directory))
