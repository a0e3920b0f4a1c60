"""Turn a fetched secret into the files of its configured format.

``render(spec, data)`` returns ``{relpath: bytes}`` (paths relative to ``output_dir``):

* ``fields``: one file per field at ``<target>/<field>``; every field name must be a valid path
  segment (same rules as targets), else ``RenderError``. A secret that is not a JSON object (an
  AWS plain string or ``SecretBinary``) is written raw to ``<target>``, one file (DESIGN: "a
  non-JSON AWS secret is raw"); an object without fields is an error.
* ``json``: the secret's object as canonical JSON (sorted keys, compact, UTF-8) with its JSON
  types kept (``42``, ``true``, ``null`` and nested objects stay what the backend stored), or
  the raw payload as-is when the secret is not an object.
* ``env``: dotenv lines ``KEY="value"`` in sorted order that systemd's ``EnvironmentFile=`` (and
  a POSIX shell's ``.``) read back exactly: keys upper-cased with every character outside
  ``[A-Za-z0-9]`` replaced by ``_`` (as the reader's env backend does) and a leading ``_`` before
  a digit, after ``env_prefix`` if set; inside double quotes ``\\``, ``"``, ``$`` and backquote
  are escaped with a backslash, newlines stay literal. With ``fields = [...]`` only those fields
  are written (each must exist); without it a field whose variable could change how a consumer
  runs (:mod:`secrets_agent.render.envnames`) is a RenderError. A NUL in a value, or two fields
  mapping to one key, is a RenderError.
* ``raw``: the whole raw payload, or one field's value with ``field``; bytes are written as-is.
* ``template``: :mod:`secrets_agent.render.template`.
* ``none``: no file; the secret is fetched only to feed ``[[templates]]`` outputs.

Limits, checked before anything is written: a ``fields`` secret has at most ``max_fields``
fields, and the files of one secret hold at most ``max_bytes`` bytes together (RenderError).

Values are written exactly: UTF-8, nothing added or stripped. No message contains a value.
"""

from __future__ import annotations

import functools
import json
import logging
import re
from collections.abc import Mapping

from secrets_agent.config.schema import SecretSpec
from secrets_agent.render.envnames import is_dangerous
from secrets_agent.render.errors import RenderError
from secrets_agent.render.template import compile_template
from secrets_agent.sources.result import SecretData
from secrets_agent.writer.paths import segment_problem

log = logging.getLogger(__name__)
_ENV_ESCAPE = re.compile(r'([\\"$`])')
_compile = functools.lru_cache(maxsize=256)(compile_template)


def _text(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def _bytes(value: object) -> bytes:
    return value if isinstance(value, bytes) else _text(value).encode("utf-8")


def _fields(spec: SecretSpec, data: SecretData) -> Mapping[str, object]:
    if data.fields is None:
        raise RenderError(
            f"{spec.target}: format {spec.format!r} needs a secret with fields (a JSON object)"
        )
    return data.fields


def render(spec: SecretSpec, data: SecretData) -> dict[str, bytes]:
    """Return the files for ``data`` in ``spec.format``; raise ``RenderError`` if impossible
    or over the spec's limits."""
    try:
        files = _render(spec, data)
    except UnicodeEncodeError:
        raise RenderError(f"{spec.target}: a value is not encodable as UTF-8") from None
    size = sum(len(content) for content in files.values())
    if size > spec.max_bytes:
        raise RenderError(
            f"{spec.target}: the secret would take {size} bytes, more than max_bytes"
            f" = {spec.max_bytes}; nothing written"
        )
    return files


def _render(spec: SecretSpec, data: SecretData) -> dict[str, bytes]:
    fmt = spec.format
    if fmt == "none":
        return {}
    if fmt == "fields":
        return _render_fields(spec, data)
    if fmt == "json":
        if data.fields is None:
            return {spec.target: _bytes(data.raw)}
        obj = _typed_object(data.fields, data.raw)
        text = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return {spec.target: text.encode("utf-8")}
    if fmt == "env":
        text = env_file(
            _fields(spec, data), spec.target, only=spec.fields, prefix=spec.env_prefix or ""
        )
        return {spec.target: text.encode("utf-8")}
    if fmt == "raw":
        if spec.field is None:
            return {spec.target: _bytes(data.raw)}
        fields = _fields(spec, data)
        if spec.field not in fields:
            raise RenderError(f"{spec.target}: the secret has no field {spec.field!r}")
        return {spec.target: _bytes(fields[spec.field])}
    if fmt == "template":
        if spec.template is None:
            raise RenderError(f"{spec.target}: format 'template' needs a template")
        template = _compile(spec.template)
        try:
            text = template.render(_fields(spec, data))
        except RenderError as exc:
            raise RenderError(f"{spec.target}: {exc}") from None
        return {spec.target: text.encode("utf-8")}
    raise RenderError(f"{spec.target}: unknown format {fmt!r}")


def _typed_object(fields: Mapping[str, str], raw: str | bytes) -> Mapping[str, object]:
    """The secret's object with its JSON types: ``fields`` holds every value as text (what the
    files of ``fields``/``env``/``template`` want), ``raw`` the object as the backend sent it."""
    try:
        obj = json.loads(raw)
    except (ValueError, RecursionError):
        return fields
    if isinstance(obj, dict) and obj.keys() == fields.keys():
        return obj
    return fields


def _render_fields(spec: SecretSpec, data: SecretData) -> dict[str, bytes]:
    if data.fields is None:
        log.debug("%s: the secret is not a JSON object; writing it raw to one file", spec.target)
        return {spec.target: _bytes(data.raw)}
    fields = data.fields
    if not fields:
        raise RenderError(f"{spec.target}: the secret has no fields to write")
    if len(fields) > spec.max_fields:
        raise RenderError(
            f"{spec.target}: the secret has {len(fields)} fields, more than max_fields"
            f" = {spec.max_fields}; nothing written"
        )
    files: dict[str, bytes] = {}
    for name, value in fields.items():
        problem = segment_problem(name) if isinstance(name, str) else "not a string"
        if problem is not None:
            shown = name if len(name) <= 60 else name[:57] + "..."
            raise RenderError(
                f"{spec.target}: field name {shown!r} cannot be a file name: {problem}"
            )
        files[f"{spec.target}/{name}"] = _bytes(value)
    return files


def env_key(name: str, prefix: str = "") -> str:
    """The variable name for field ``name``: ``prefix`` then the name upper-cased,
    ``[^A-Za-z0-9]`` -> ``_`` (``_`` before a leading digit when there is no prefix)."""
    key = re.sub(r"[^A-Za-z0-9]", "_", name).upper()
    if prefix:
        return prefix + key
    return "_" + key if not key or key[0].isdigit() else key


def env_file(
    fields: Mapping[str, object],
    target: str = "secret",
    *,
    only: tuple[str, ...] | None = None,
    prefix: str = "",
) -> str:
    """Dotenv text for ``fields`` that systemd's ``EnvironmentFile=`` reads back exactly.

    ``only``: the fields to write (each must exist; the others are left out), which also allows
    their variables whatever their names; without it, a variable named in
    :mod:`secrets_agent.render.envnames` is a ``RenderError``. ``prefix`` starts every name.
    """
    if only is not None:
        absent = [name for name in only if name not in fields]
        if absent:
            raise RenderError(f"{target}: the secret has no field {absent[0]!r} (listed in fields)")
        fields = {name: fields[name] for name in only}
    lines: dict[str, str] = {}
    sources: dict[str, str] = {}
    for name in sorted(fields):
        key = env_key(name, prefix)
        if only is None and is_dangerous(key):
            raise RenderError(
                f"{target}: field {name!r} would set {key}, which can change how a program"
                " runs; list the fields to write in fields = [...] to allow it"
            )
        if key in lines:
            raise RenderError(
                f"{target}: fields {sources[key]!r} and {name!r} both become variable {key}"
            )
        value = _text(fields[name])
        if "\x00" in value:
            raise RenderError(
                f"{target}: field {name!r} contains a NUL byte, which env cannot hold"
            )
        escaped = _ENV_ESCAPE.sub(r"\\\1", value)
        lines[key] = f'{key}="{escaped}"'
        sources[key] = name
    return "".join(line + "\n" for line in lines.values())
