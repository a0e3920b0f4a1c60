"""The text of a secret's values, identical whether the reader or the agent produces it.

A field that is a string is its own text. Any other JSON value (number, boolean, null, nested
array or object) is its compact JSON text with non-ASCII characters kept as they are
(``ensure_ascii=False``): the agent writes that text to the field's file, and the reader returns
it from Vault or AWS directly, so a service sees the same string whichever way it reads.

``decode_object`` parses a JSON object without letting a pathological document (nested past
Python's recursion limit) raise anything but "not a JSON object": one bad secret must never fail
a whole batch or escape a reader.
"""

from __future__ import annotations

import json
from typing import Any


class NestingTooDeepError(ValueError):
    """A JSON value is nested too deeply to be decoded or encoded."""


def field_text(value: object) -> str:
    """The text of one field's value (see the module docstring).

    Raises ``NestingTooDeepError`` for a value nested too deeply to encode.
    """
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    except RecursionError:
        raise NestingTooDeepError("a value is nested too deeply to encode as JSON") from None


def object_text(obj: object) -> str:
    """The compact JSON text of a whole object, as ``field_text`` writes nested values."""
    return field_text(obj) if not isinstance(obj, str) else json.dumps(obj, ensure_ascii=False)


def decode_object(text: str) -> dict[str, Any] | None:
    """``text`` parsed as a JSON object, or None when it is not one.

    None for invalid JSON, JSON that is not an object, and JSON nested deeper than Python can
    parse. The parser's own exception is never raised or chained: it quotes the text.
    """
    if not text.lstrip().startswith("{"):
        return None
    try:
        parsed = json.loads(text)
    except (ValueError, RecursionError):
        return None
    return parsed if isinstance(parsed, dict) else None


__all__ = ["NestingTooDeepError", "decode_object", "field_text", "object_text"]
