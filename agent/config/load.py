"""Load and validate the agent's TOML config into frozen dataclasses.

Every problem is collected and reported at once, each prefixed with its key path
(``secrets[2].format: must be one of fields, json, env, raw, template``). Messages never repeat a
configured value. Rules beyond types and unknown keys:

* ``output_dir`` and ``metrics_file`` are absolute; ``metrics_file`` is outside ``output_dir``.
* Modes are ``"0400"``-style strings or integers, at most ``0777`` (no setuid/setgid/sticky).
  Files: no write or execute bit for group or others, and no bit at all for others unless
  ``[agent] allow_world_readable = true``. ``dir_mode``: owner ``rwx`` required, no write bit for
  group or others, others only with ``allow_world_readable``.
* ``owner``/``group`` are names (resolved now; unknown is an error) or numbers.
* ``target`` (default: ``path``) follows the reader's key rules: relative, no ``..``, no dot
  names; targets are unique and none is a directory prefix of another.
* ``field`` only with ``raw``; ``template`` required with (and only with) ``template``, and its
  syntax is checked now; ``version_stage`` only with the AWS backend.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path

from secrets_agent.config.backend import parse_backend
from secrets_agent.config.schema import (
    DEFAULT_JWT_FILE,
    FORMATS,
    AgentSettings,
    AuthConfig,
    AwsBackendConfig,
    Config,
    SecretSpec,
    VaultBackendConfig,
)
from secrets_agent.config.tables import Problems, Table, type_name
from secrets_agent.render.template import TemplateSyntaxError, compile_template
from secrets_agent.writer.relpaths import relpath_problem

__all__ = [
    "DEFAULT_JWT_FILE",
    "AgentSettings",
    "AuthConfig",
    "AwsBackendConfig",
    "Config",
    "ConfigError",
    "SecretSpec",
    "VaultBackendConfig",
    "load_config",
    "parse_config",
]


class ConfigError(Exception):
    """The config is unusable. ``problems`` holds one ``"key.path: what"`` line per problem."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))

    def __str__(self) -> str:
        return "\n".join(self.problems)


def load_config(path: str | Path, *, environ: Mapping[str, str] | None = None) -> Config:
    """Read and parse the TOML file at ``path``; raise ``ConfigError`` listing every problem."""
    source = Path(path)
    try:
        with source.open("rb") as handle:
            data = tomllib.load(handle)
    except OSError as exc:
        raise ConfigError([f"{source}: cannot read: {exc.strerror or exc}"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{source}: invalid TOML: {exc}"]) from None
    return parse_config(data, environ=environ, source=source.absolute())


def parse_config(
    data: Mapping[str, object],
    *,
    environ: Mapping[str, str] | None = None,
    source: Path | None = None,
) -> Config:
    """Validate an already-parsed TOML document; raise ``ConfigError`` listing every problem."""
    env = os.environ if environ is None else environ
    problems = Problems()
    root = Table(data, "", problems)
    agent_data = root.table("agent", required=True)
    backend_data = root.table("backend", required=True)
    secrets_data = root.raw("secrets")
    root.finish()

    agent = _parse_agent(agent_data, problems) if agent_data is not None else None
    base_dir = source.parent if source is not None else None
    backend = parse_backend(backend_data, problems, env, base_dir) if backend_data else None
    specs = _parse_secrets(secrets_data, agent, backend, problems)
    if problems.items or agent is None or backend is None:
        raise ConfigError(problems.items or ["config: incomplete"])
    return Config(agent=agent, backend=backend, secrets=specs, source=source)


def _file_mode_problem(mode: int, world_ok: bool) -> str | None:
    if mode & 0o033:
        return "group/others may not write or execute secret files"
    if mode & 0o004 and not world_ok:
        return "others may not read secret files (set [agent] allow_world_readable = true)"
    return None


def _parse_agent(data: Mapping[str, object], problems: Problems) -> AgentSettings | None:
    t = Table(data, "agent", problems)
    output_dir = t.abs_path("output_dir", required=True)
    world_ok = t.boolean("allow_world_readable", False)
    file_mode = t.mode("file_mode")
    if file_mode is not None and (msg := _file_mode_problem(file_mode, world_ok)):
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
    if metrics_file and output_dir and metrics_file.is_relative_to(output_dir):
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
        outage_probe_max=t.duration("outage_probe_max", None),
    )
    t.finish()
    return settings if output_dir is not None else None


def _parse_secrets(
    value: object,
    agent: AgentSettings | None,
    backend: VaultBackendConfig | AwsBackendConfig | None,
    problems: Problems,
) -> tuple[SecretSpec, ...]:
    if value is None:
        problems.add("secrets", "at least one [[secrets]] entry is required")
        return ()
    if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
        problems.add("secrets", f"must be an array of tables ([[secrets]]), not {type_name(value)}")
        return ()
    if not value:
        problems.add("secrets", "at least one [[secrets]] entry is required")
    specs: list[SecretSpec] = []
    targets = _TargetIndex()
    for index, item in enumerate(value):
        spec = _parse_secret(item, f"secrets[{index}]", agent, backend, problems)
        if spec is None:
            continue
        entry = f"secrets[{index}]"
        for clash in targets.clashes(spec.target):
            problems.add(f"{entry}.target", clash)
        targets.add(spec.target, entry)
        specs.append(spec)
    return tuple(specs)


class _TargetIndex:
    """Targets seen so far, for a check that no two targets collide, linear in their number.

    Two targets collide when they are equal or one is a directory of the other (``a`` and
    ``a/b``): both would need the same path as a file and as a directory.
    """

    def __init__(self) -> None:
        self._order: dict[str, int] = {}  # entry -> position, to report clashes in config order
        self._owners: dict[str, list[str]] = {}  # target -> entries that have it
        self._below: dict[str, list[str]] = {}  # proper parent of a target -> those entries

    def clashes(self, target: str) -> list[str]:
        """The problems with adding ``target``: one per earlier entry it collides with."""
        found = [(entry, "same target as") for entry in self._owners.get(target, ())]
        overlapping = list(self._below.get(target, ()))
        for parent in _parents_of(target):
            overlapping.extend(self._owners.get(parent, ()))
        found.extend((entry, "overlaps") for entry in overlapping)
        found.sort(key=lambda item: self._order[item[0]])
        return [
            f"{verb} {entry}"
            + (" (one would be a directory of the other)" if verb == "overlaps" else "")
            for entry, verb in found
        ]

    def add(self, target: str, entry: str) -> None:
        self._order[entry] = len(self._order)
        self._owners.setdefault(target, []).append(entry)
        for parent in _parents_of(target):
            self._below.setdefault(parent, []).append(entry)


def _parents_of(target: str) -> list[str]:
    parts = target.split("/")
    return ["/".join(parts[:i]) for i in range(1, len(parts))]


def _path_problem(path: str) -> str | None:
    if path.startswith("/") or path.endswith("/"):
        return "must not start or end with '/'"
    if any(segment in ("", ".", "..") for segment in path.split("/")):
        return "must not contain empty, '.' or '..' segments"
    return None


def _parse_secret(
    data: Mapping[str, object],
    prefix: str,
    agent: AgentSettings | None,
    backend: VaultBackendConfig | AwsBackendConfig | None,
    problems: Problems,
) -> SecretSpec | None:
    t = Table(data, prefix, problems)
    path = t.string("path", required=True)
    if path is not None and (msg := _path_problem(path)):
        t.problem("path", msg)
        path = None
    target = t.string("target")
    if target is not None and (msg := relpath_problem(target)):
        t.problem("target", msg)
    elif target is None and path is not None and (msg := relpath_problem(path)):
        t.problem("target", f"the default target (the path) is not usable ({msg}); set target")
    fmt = t.choice("format", FORMATS, "fields")
    field = t.string("field")
    if field is not None and fmt != "raw":
        t.problem("field", 'only used with format = "raw"')
    template = t.raw("template")
    if fmt == "template":
        if not isinstance(template, str):
            t.problem("template", 'is required with format = "template" (a string)')
        else:
            try:
                compile_template(template)
            except TemplateSyntaxError as exc:
                t.problem("template", str(exc))
    elif template is not None:
        t.problem("template", 'only used with format = "template"')
    mode = t.mode("mode")
    world_ok = agent.allow_world_readable if agent is not None else False
    if mode is not None and (msg := _file_mode_problem(mode, world_ok)):
        t.problem("mode", msg)
    owner = t.principal("owner", group=False)
    group = t.principal("group", group=True)
    refresh = t.duration("refresh_interval", None)
    on_change = t.argv("on_change")
    stage = t.string("version_stage")
    if stage is not None and backend is not None and backend.type != "aws":
        t.problem("version_stage", "only used with the aws backend")
    t.finish()
    if path is None or agent is None:
        return None
    return SecretSpec(
        path=path,
        target=target if target is not None else path,
        format=fmt or "fields",
        field=field,
        template=template if isinstance(template, str) else None,
        mode=agent.file_mode if mode is None else mode,
        owner=agent.owner if owner is None else owner,
        group=agent.group if group is None else group,
        refresh_interval=agent.refresh_interval if refresh is None else refresh,
        on_change=on_change,
        version_stage=stage,
    )
