"""The ``[[templates]]`` entries: one file rendered from the fields of several secrets.

::

    [[secrets]]
    path = "postgres"
    format = "none"               # fetched for the template only: no file of its own

    [[secrets]]
    path = "alpaca"               # also written as usual (fields)

    [[templates]]
    target = "app/config.ini"
    sources = { db = "postgres", api = "alpaca" }
    template = \"\"\"
    [db]
    password = {{ db.password | json }}
    [api]
    key = {{ api.api_key_id }}
    \"\"\"
    mode = "0440"                 # owner, group, on_change, max_bytes as for [[secrets]]

* ``sources`` maps source names (``[A-Za-z_][A-Za-z0-9_]*``) to the ``target`` of a
  ``[[secrets]]`` entry (its ``path`` unless it sets ``target``). A template output is fetched
  with, and scheduled by, the secrets it names: it costs no fetch of its own.
* ``template`` uses ``{{ source.field | filter }}`` (:mod:`secrets_agent.render.template`); a
  source that is not declared, or a tag that does not parse, is a problem now; every declared
  source must be used.
* ``target`` (required) follows the reader's key rules and shares the collision rules of
  ``[[secrets]]`` targets (``entries.TargetIndex``).
"""

from __future__ import annotations

from collections.abc import Mapping

from secrets_agent.config.agent import MAX_BYTES_LIMIT, file_mode_problem
from secrets_agent.config.entries import TargetIndex
from secrets_agent.config.schema import AgentSettings, SecretSpec, TemplateSpec
from secrets_agent.config.tables import Problems, Table, type_name
from secrets_agent.render.template import SOURCE_NAME, TemplateSyntaxError, compile_template
from secrets_agent.writer.paths import relpath_problem


def parse_templates(
    value: object,
    specs: tuple[SecretSpec, ...],
    agent: AgentSettings | None,
    problems: Problems,
    targets: TargetIndex,
) -> tuple[TemplateSpec, ...]:
    """The ``[[templates]]`` array (``()`` when absent); problems go to ``problems``."""
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
        problems.add(
            "templates", f"must be an array of tables ([[templates]]), not {type_name(value)}"
        )
        return ()
    by_target = {spec.target: spec for spec in specs}
    parsed: list[TemplateSpec] = []
    for index, item in enumerate(value):
        entry = f"templates[{index}]"
        spec = _parse_template(item, entry, by_target, agent, problems)
        if spec is None:
            continue
        for clash in targets.clashes(spec.target):
            problems.add(f"{entry}.target", clash)
        targets.add(spec.target, entry)
        parsed.append(spec)
    _check_unused(specs, value, problems)
    return tuple(parsed)


def _check_unused(
    specs: tuple[SecretSpec, ...], entries: list[Mapping[str, object]], problems: Problems
) -> None:
    """A ``format = "none"`` secret that no template names would be fetched for nothing (an
    entry with other problems still counts, so that one mistake is reported once)."""
    used: set[object] = set()
    for entry in entries:
        sources = entry.get("sources")
        if isinstance(sources, Mapping):
            used.update(v for v in sources.values() if isinstance(v, str))
    for index, spec in enumerate(specs):
        if spec.format == "none" and spec.target not in used:
            problems.add(
                f"secrets[{index}].format",
                '"none" writes no file, and no [[templates]] entry uses this secret',
            )


def _parse_sources(
    t: Table, by_target: Mapping[str, SecretSpec]
) -> tuple[tuple[str, str], ...] | None:
    raw = t.raw("sources")
    if raw is None:
        t.problem("sources", 'is required: a table of name = "<target of a [[secrets]] entry>"')
        return None
    if not isinstance(raw, Mapping) or not raw:
        t.problem("sources", f"must be a non-empty table of name = target, not {type_name(raw)}")
        return None
    sources: list[tuple[str, str]] = []
    ok = True
    for name, target in raw.items():
        where = f"sources.{name}"
        if not SOURCE_NAME.fullmatch(name):
            t.problem(where, "is not a source name (letters, digits and _, not a digit first)")
            ok = False
        elif not isinstance(target, str):
            t.problem(where, f"must be the target of a [[secrets]] entry, not {type_name(target)}")
            ok = False
        elif target not in by_target:
            t.problem(where, "names no [[secrets]] entry (give its target, or its path)")
            ok = False
        else:
            sources.append((name, target))
    return tuple(sources) if ok else None


def _parse_template(
    data: Mapping[str, object],
    prefix: str,
    by_target: Mapping[str, SecretSpec],
    agent: AgentSettings | None,
    problems: Problems,
) -> TemplateSpec | None:
    t = Table(data, prefix, problems)
    target = t.string("target", required=True)
    if target is not None and (msg := relpath_problem(target)):
        t.problem("target", msg)
        target = None
    sources = _parse_sources(t, by_target)
    text = t.raw("template")
    template: str | None = None
    if not isinstance(text, str):
        t.problem("template", "is required (a string)")
    elif sources is not None:
        names = [name for name, _ in sources]
        try:
            used = compile_template(text, sources=names).fields_by_source()
        except TemplateSyntaxError as exc:
            t.problem("template", str(exc))
        else:
            template = text
            for name in names:
                if name not in used:
                    t.problem(f"sources.{name}", "is declared but the template never uses it")
                    template = None
    mode = t.mode("mode")
    world_ok = agent.allow_world_readable if agent is not None else False
    if mode is not None and (msg := file_mode_problem(mode, world_ok)):
        t.problem("mode", msg)
    owner = t.principal("owner", group=False)
    group = t.principal("group", group=True)
    on_change = t.argv("on_change")
    max_bytes = t.integer("max_bytes", 0, 1, MAX_BYTES_LIMIT) if t.has("max_bytes") else 0
    t.finish()
    if target is None or sources is None or template is None or agent is None:
        return None
    return TemplateSpec(
        target=target,
        template=template,
        sources=sources,
        mode=agent.file_mode if mode is None else mode,
        owner=agent.owner if owner is None else owner,
        group=agent.group if group is None else group,
        on_change=on_change,
        max_bytes=max_bytes or agent.max_bytes,
    )
