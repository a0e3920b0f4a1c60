"""The ``[[secrets]]`` entries: one ``SecretSpec`` each, with the ``[agent]`` defaults applied.

* ``path``: a relative path (no empty, ``.`` or ``..`` segments). With the aws backend also a
  secret name starting with ``/`` or a secret ARN (``libs.secrets._core.paths``: AWS's name
  characters; an ARN in the ``[backend] region`` when one is set).
* ``target`` (default: ``path``; for a ``/``-name or an ARN the secret's name without its leading
  ``/``) follows the reader's key rules: relative, no ``..``, no dot names; targets are unique
  and none is a directory prefix of another.
* ``field`` only with ``raw``; ``template`` required with (and only with) ``template``, and its
  syntax is checked now; ``version_stage`` only with the AWS backend.
* ``fields`` (an allow-list of field names) and ``env_prefix`` (upper-case letters, digits and
  ``_``, not starting with a digit) only with ``env``.
* ``max_fields`` and ``max_bytes`` default to the ``[agent]`` values.
* ``kind``, ``method``, ``data``, ``renew_at``, ``replace_margin``, ``revoke_replaced`` and
  ``revoke_on_stop``: leased secrets (``config.lease_keys``).
* ``format = "none"`` writes no file: the entry only feeds ``[[templates]]`` (its target is its
  name there and still counts for collisions; ``mode``, ``owner``, ``group`` and ``on_change``
  do not apply).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping

from libs.secrets._core.paths import (
    arn_region_problem,
    aws_default_target,
    aws_secret_id_problem,
)
from secrets_agent.config.agent import MAX_BYTES_LIMIT, MAX_FIELDS_LIMIT, file_mode_problem
from secrets_agent.config.lease_keys import parse_lease_keys
from secrets_agent.config.schema import (
    FORMATS,
    AgentSettings,
    AwsBackendConfig,
    SecretSpec,
    VaultBackendConfig,
)
from secrets_agent.config.tables import Problems, Table, type_name
from secrets_agent.render.template import TemplateSyntaxError, compile_template
from secrets_agent.writer.paths import relpath_problem


def parse_secrets(
    value: object,
    agent: AgentSettings | None,
    backend: VaultBackendConfig | AwsBackendConfig | None,
    problems: Problems,
    targets: TargetIndex | None = None,
) -> tuple[SecretSpec, ...]:
    """The ``[[secrets]]`` array; each target is added to ``targets`` (shared with
    ``[[templates]]``, so that no two outputs collide)."""
    if value is None:
        problems.add("secrets", "at least one [[secrets]] entry is required")
        return ()
    if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
        problems.add("secrets", f"must be an array of tables ([[secrets]]), not {type_name(value)}")
        return ()
    if not value:
        problems.add("secrets", "at least one [[secrets]] entry is required")
    specs: list[SecretSpec] = []
    targets = TargetIndex() if targets is None else targets
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


class TargetIndex:
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


def _path_problem(path: str, backend: VaultBackendConfig | AwsBackendConfig | None) -> str | None:
    aws = backend is not None and backend.type == "aws"
    if path.startswith(("/", "arn:")):
        if backend is None:
            return None  # [backend] is broken and reported: no rule to judge by
        if not aws:
            return (
                "must be a relative path (a name starting with '/' or an ARN is an AWS secret "
                f"id; the {backend.type} backend takes relative paths)"
            )
        problem = aws_secret_id_problem(path)
        if problem is None and isinstance(backend, AwsBackendConfig):
            problem = arn_region_problem(path, backend.region, source="[backend] region")
        return problem
    if path.endswith("/"):
        return "must not end with '/'"
    if any(segment in ("", ".", "..") for segment in path.split("/")):
        return "must not contain empty, '.' or '..' segments"
    if aws:
        return aws_secret_id_problem(path)
    return None


def _default_target(path: str) -> str:
    """The target of an entry without one: the path; for an AWS name starting with '/' or an
    ARN, the name without its leading '/' (for an ARN, the name after ':secret:')."""
    return aws_default_target(path) if path.startswith(("/", "arn:")) else path


_ENV_PREFIX = re.compile(r"[A-Z_][A-Z0-9_]*")


def _parse_secret(
    data: Mapping[str, object],
    prefix: str,
    agent: AgentSettings | None,
    backend: VaultBackendConfig | AwsBackendConfig | None,
    problems: Problems,
) -> SecretSpec | None:
    t = Table(data, prefix, problems)
    path = t.string("path", required=True)
    if path is not None and (msg := _path_problem(path, backend)):
        t.problem("path", msg)
        path = None
    target = t.string("target")
    if target is not None and (msg := relpath_problem(target)):
        t.problem("target", msg)
    elif target is None and path is not None and (msg := relpath_problem(_default_target(path))):
        what = "the path" if _default_target(path) == path else "derived from the secret's name"
        t.problem("target", f"the default target ({what}) is not usable ({msg}); set target")
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
    if mode is not None and (msg := file_mode_problem(mode, world_ok)):
        t.problem("mode", msg)
    owner = t.principal("owner", group=False)
    group = t.principal("group", group=True)
    refresh = t.duration("refresh_interval", None)
    on_change = t.argv("on_change")
    stage = t.string("version_stage")
    if stage is not None and backend is not None and backend.type != "aws":
        t.problem("version_stage", "only used with the aws backend")
    fields = t.names("fields")
    if fields is not None and fmt != "env":
        t.problem("fields", 'only used with format = "env"')
    env_prefix = t.string("env_prefix")
    if env_prefix is not None:
        if fmt != "env":
            t.problem("env_prefix", 'only used with format = "env"')
        elif not _ENV_PREFIX.fullmatch(env_prefix):
            t.problem(
                "env_prefix", "must be upper-case letters, digits and _, not starting with a digit"
            )
    max_fields = t.integer("max_fields", 0, 1, MAX_FIELDS_LIMIT) if t.has("max_fields") else 0
    max_bytes = t.integer("max_bytes", 0, 1, MAX_BYTES_LIMIT) if t.has("max_bytes") else 0
    if fmt == "none":
        for key in ("mode", "owner", "group", "on_change"):
            if t.has(key):
                t.problem(key, 'not used with format = "none" (it writes no file)')
    lease = parse_lease_keys(t, None if backend is None else backend.type)
    t.finish()
    if path is None or agent is None:
        return None
    return SecretSpec(
        path=path,
        target=target if target is not None else _default_target(path),
        # Words most entries repeat are kept once (10,000 entries: ~1 MiB less).
        format=sys.intern(fmt or "fields"),
        field=None if field is None else sys.intern(field),
        template=template if isinstance(template, str) else None,
        mode=agent.file_mode if mode is None else mode,
        owner=agent.owner if owner is None else owner,
        group=agent.group if group is None else group,
        refresh_interval=agent.refresh_interval if refresh is None else refresh,
        on_change=on_change,
        version_stage=None if stage is None else sys.intern(stage),
        fields=fields,
        env_prefix=None if env_prefix is None else sys.intern(env_prefix),
        max_fields=max_fields or agent.max_fields,
        max_bytes=max_bytes or agent.max_bytes,
        kind=lease.kind,
        method=lease.method,
        data=lease.data,
        renew_at=lease.renew_at,
        replace_margin=lease.replace_margin,
        revoke_replaced=lease.revoke_replaced,
        revoke_on_stop=lease.revoke_on_stop,
    )
