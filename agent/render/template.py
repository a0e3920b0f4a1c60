"""A small, strict, sandboxed template language for ``format = "template"`` and ``[[templates]]``.

Syntax: literal text with tags ``{{ expr | filter | filter ... }}``.

* ``expr`` is a field name of the secret (letters, digits and ``_ . @ + = -``) or a quoted
  literal (``'...'`` or ``"..."``, no escapes; ``{{ '{{' }}`` writes a literal ``{{``).
* In a template over several secrets (``compile_template(text, sources=...)``, for
  ``[[templates]]``), a name is ``source.field``: a source name (``[A-Za-z_][A-Za-z0-9_]*``,
  no dot) then the field name, which may itself contain dots (``{{ db.password }}``,
  ``{{ api.key.id }}`` is field ``key.id`` of ``api``). A bare field name, or a source that is
  not declared, is a syntax error.
* filters: ``json`` (a JSON string literal, quotes included), ``base64`` (standard base64 of the
  UTF-8 bytes), ``urlquote`` (percent-encode everything but letters, digits and ``_.-~``, for
  URLs such as ``postgres://u:{{ password | urlquote }}@db/app``), ``trim`` (strip surrounding
  whitespace), ``upper``, ``lower``.

There is nothing else: no attribute access, no calls, no loops, no code. A tag that does not parse
is a syntax error at config load; a field the secret does not have is a ``RenderError`` when
rendering (never an empty string), naming the source too in a template over several secrets.
Error messages give positions, source and field names, never text of the template or values.
"""

from __future__ import annotations

import base64
import json
import re
import urllib.parse
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass

from secrets_agent.render.errors import RenderError

_NAME = r"[A-Za-z0-9_.@+=-]+"
SOURCE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_TAG_BODY = re.compile(
    rf"\s*(?:(?P<name>{_NAME})|'(?P<sq>[^']*)'|\"(?P<dq>[^\"]*)\")"
    r"(?P<filters>(?:\s*\|\s*[a-z0-9_]+)*)\s*"
)


def _as_text(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


FILTERS: dict[str, Callable[[str], str]] = {
    "json": lambda v: json.dumps(v, ensure_ascii=False),
    "base64": lambda v: base64.b64encode(v.encode()).decode("ascii"),
    "urlquote": lambda v: urllib.parse.quote(v, safe=""),
    "trim": str.strip,
    "upper": str.upper,
    "lower": str.lower,
}


class TemplateSyntaxError(ValueError):
    """The template text does not parse; the message gives line and column."""


@dataclass(frozen=True)
class _Tag:
    name: str | None  # field name, or None for a literal
    literal: str
    filters: tuple[str, ...]
    source: str | None = None  # the source of ``name`` in a template over several secrets


@dataclass(frozen=True)
class Template:
    """A parsed template; ``render(fields)`` fills it in."""

    parts: tuple[str | _Tag, ...]

    @property
    def field_names(self) -> frozenset[str]:
        """The names of the fields the template uses (of a single-secret template)."""
        return frozenset(p.name for p in self.parts if isinstance(p, _Tag) and p.name is not None)

    def fields_by_source(self) -> dict[str, frozenset[str]]:
        """Source name -> the fields the template uses of it (a template over several
        secrets; sources it declares but never uses are absent)."""
        found: dict[str, set[str]] = {}
        for p in self.parts:
            if isinstance(p, _Tag) and p.name is not None and p.source is not None:
                found.setdefault(p.source, set()).add(p.name)
        return {source: frozenset(names) for source, names in found.items()}

    def render(self, fields: Mapping[str, object]) -> str:
        """Return the filled-in text; raise ``RenderError`` naming the first missing field."""
        return self._render(lambda source: fields)

    def render_sources(self, sources: Mapping[str, Mapping[str, object]]) -> str:
        """Fill in a template over several secrets from ``sources`` (source name -> fields);
        raise ``RenderError`` naming the source and field of the first one missing."""
        return self._render(lambda source: sources.get(source or "", {}))

    def _render(self, lookup: Callable[[str | None], Mapping[str, object]]) -> str:
        out: list[str] = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
                continue
            if part.name is None:
                value = part.literal
            else:
                fields = lookup(part.source)
                if part.name not in fields:
                    if part.source is None:
                        raise RenderError(
                            f"template uses field {part.name!r}, which the secret lacks"
                        )
                    raise RenderError(
                        f"template uses field {part.name!r} of source {part.source!r},"
                        " which that secret lacks"
                    )
                value = _as_text(fields[part.name])
            for name in part.filters:
                value = FILTERS[name](value)
            out.append(value)
        return "".join(out)


def _position(text: str, index: int) -> str:
    line = text.count("\n", 0, index) + 1
    column = index - (text.rfind("\n", 0, index) + 1) + 1
    return f"line {line}, column {column}"


def _split_source(name: str, sources: Collection[str], where: str) -> tuple[str, str]:
    """``"db.password"`` -> ``("db", "password")``, checked against the declared sources."""
    source, dot, field = name.partition(".")
    if not dot or not field or not SOURCE_NAME.fullmatch(source):
        raise TemplateSyntaxError(
            f"tag at {where} must name a source and a field (source.field), as in"
            " {{ db.password }}"
        )
    if source not in sources:
        known = ", ".join(sorted(sources)) or "none"
        raise TemplateSyntaxError(
            f"tag at {where} uses source {source!r}, which is not declared (sources: {known})"
        )
    return source, field


def compile_template(text: str, *, sources: Collection[str] | None = None) -> Template:
    """Parse ``text``; raise ``TemplateSyntaxError`` for an unclosed or malformed tag.

    ``sources``: the source names of a template over several secrets (every name in a tag is
    then ``source.field`` with a declared source); None for a template over one secret."""
    parts: list[str | _Tag] = []
    pos = 0
    while True:
        start = text.find("{{", pos)
        if start < 0:
            if pos < len(text):
                parts.append(text[pos:])
            break
        if start > pos:
            parts.append(text[pos:start])
        end = text.find("}}", start + 2)
        if end < 0:
            raise TemplateSyntaxError(f"unclosed '{{{{' at {_position(text, start)}")
        body = text[start + 2 : end]
        match = _TAG_BODY.fullmatch(body)
        if match is None:
            raise TemplateSyntaxError(
                f"malformed tag at {_position(text, start)}: expected a field name or a quoted"
                " literal, optionally followed by '| filter'"
            )
        filters = tuple(f.strip() for f in match.group("filters").split("|")[1:])
        for name in filters:
            if name not in FILTERS:
                known = ", ".join(sorted(FILTERS))
                raise TemplateSyntaxError(
                    f"unknown filter {name!r} at {_position(text, start)} (known: {known})"
                )
        literal = match.group("sq") if match.group("sq") is not None else match.group("dq")
        name, source = match.group("name"), None
        if name is not None and sources is not None:
            source, name = _split_source(name, sources, _position(text, start))
        parts.append(_Tag(name, literal or "", filters, source))
        pos = end + 2
    return Template(tuple(parts))
