"""The bytes of a ``[[templates]]`` output from the fields of its source secrets.

``render_output(spec, sources)`` is the one rule the daemon (``daemon.templates``) and
``secrets-agent check`` share: every source must be a JSON object (an AWS plain string has no
fields), every field the template uses must be there (:mod:`secrets_agent.render.template`), and
the result must fit in ``max_bytes``. Errors name the source, the secret's target and the field,
never a value.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping

from secrets_agent.config.schema import TemplateSpec
from secrets_agent.render.errors import RenderError
from secrets_agent.render.template import Template, compile_template


@functools.lru_cache(maxsize=256)
def compiled(spec: TemplateSpec) -> Template:
    """The parsed template of ``spec`` (checked when the config was loaded)."""
    return compile_template(spec.template, sources=[name for name, _ in spec.sources])


def render_output(spec: TemplateSpec, sources: Mapping[str, Mapping[str, object] | None]) -> bytes:
    """The file's content; ``sources`` maps each source name to its secret's fields (None: the
    secret is not a JSON object). Raises ``RenderError``."""
    fields: dict[str, Mapping[str, object]] = {}
    for name, secret in spec.sources:
        value = sources.get(name)
        if value is None:
            raise RenderError(f"source {name!r} ({secret}) is not a JSON object and has no fields")
        fields[name] = value
    try:
        content = compiled(spec).render_sources(fields).encode("utf-8")
    except UnicodeEncodeError:
        raise RenderError("a value is not encodable as UTF-8") from None
    if len(content) > spec.max_bytes:
        raise RenderError(
            f"the output would take {len(content)} bytes, more than max_bytes"
            f" = {spec.max_bytes}; nothing written"
        )
    return content
