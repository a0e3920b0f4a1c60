"""A small, strict, sandboxed template language for ``format = "template"``.

Syntax: literal text with tags ``{{ expr | filter | filter ... }}``.

* ``expr`` is a field name of the secret (letters, digits and ``_ . @ + = -``) or a quoted
  literal (``'...'`` or ``"..."``, no escapes; ``{{ '{{' }}`` writes a literal ``{{``).
* filters: ``json`` (a JSON string literal, quotes included), ``base64`` (standard base64 of the
  UTF-8 bytes), ``urlquote`` (percent-encode everything but letters, digits and ``_.-~``, for
  URLs such as ``postgres://u:{{ password | urlquote }}@db/app``), ``trim`` (strip surrounding
  whitespace), ``upper``, ``lower``.

There is nothing else: no attribute access, no calls, no loops, no code. A tag that does not parse
is a syntax error at config load; a field the secret does not have is a ``RenderError`` when
rendering (never an empty string). Error messages give positions and field names, never text of
the template or values.
"""

from __future__ import annotations

import base64
import json
import re
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from secrets_agent.render.errors import RenderError

_NAME = r"[A-Za-z0-9_.@+=-]+"
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


@dataclass(frozen=True)
class Template:
    """A parsed template; ``render(fields)`` fills it in."""

    parts: tuple[str | _Tag, ...]

    @property
    def field_names(self) -> frozenset[str]:
        """The names of the fields the template uses."""
        return frozenset(p.name for p in self.parts if isinstance(p, _Tag) and p.name is not None)

    def render(self, fields: Mapping[str, object]) -> str:
        """Return the filled-in text; raise ``RenderError`` naming the first missing field."""
        out: list[str] = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
                continue
            if part.name is None:
                value = part.literal
            elif part.name in fields:
                value = _as_text(fields[part.name])
            else:
                raise RenderError(f"template uses field {part.name!r}, which the secret lacks")
            for name in part.filters:
                value = FILTERS[name](value)
            out.append(value)
        return "".join(out)


def _position(text: str, index: int) -> str:
    line = text.count("\n", 0, index) + 1
    column = index - (text.rfind("\n", 0, index) + 1) + 1
    return f"line {line}, column {column}"


def compile_template(text: str) -> Template:
    """Parse ``text``; raise ``TemplateSyntaxError`` for an unclosed or malformed tag."""
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
        parts.append(_Tag(match.group("name"), literal or "", filters))
        pos = end + 2
    return Template(tuple(parts))
