"""Durations (``30``, ``1.5``, ``"30s"``, ``"5m"``, ``"1h30m"``) in and out: one parser, one format.

Used by the agent's config and status table and by the reader's settings (``SECRET_CACHE_TTL``,
timeouts). Messages never repeat the value.
"""

from __future__ import annotations

import math
import re

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_PART = r"(\d+(?:\.\d+)?)(ms|s|m|h|d)"  # compiled (and cached) by ``re`` on first use
_ORDER = ("d", "h", "m", "s", "ms")


def parse_duration(value: object) -> float:
    """Return ``value`` as a number of seconds (>= 0).

    Accepts an int or float (seconds), a numeric string (seconds), or a string of one or more
    ``<number><unit>`` parts with units ``d``, ``h``, ``m``, ``s``, ``ms`` in that order, each at
    most once (``"1h30m"``, ``"90s"``, ``"1.5h"``, ``"250ms"``). Raises ``ValueError`` with a
    message that does not repeat the value.
    """
    if isinstance(value, bool):
        raise ValueError("must be a number of seconds or a string such as '30s', '5m', '1h30m'")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        seconds = _parse_text(value.strip())
    else:
        raise ValueError("must be a number of seconds or a string such as '30s', '5m', '1h30m'")
    if math.isnan(seconds) or math.isinf(seconds):
        raise ValueError("must be a finite duration")
    if seconds < 0:
        raise ValueError("must not be negative")
    return seconds


def _parse_text(text: str) -> float:
    bad = ValueError("not a duration; use seconds or e.g. '30s', '5m', '1h', '1h30m', '250ms'")
    if not text:
        raise bad
    try:
        return float(text) if re.fullmatch(r"\d+(?:\.\d+)?", text) else _parse_units(text)
    except ValueError:
        raise bad from None


def _parse_units(text: str) -> float:
    pos = 0
    total = 0.0
    last_rank = -1
    while pos < len(text):
        match = re.compile(_PART).match(text, pos)
        if match is None:
            raise ValueError(text)
        rank = _ORDER.index(match.group(2))
        if rank <= last_rank:  # units out of order or repeated ("5m1h", "1s2s")
            raise ValueError(text)
        last_rank = rank
        total += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    return total


def format_duration(seconds: float) -> str:
    """Render ``seconds`` compactly for tables: ``"45s"``, ``"3m12s"``, ``"2h05m"``, ``"3d04h"``.

    Negative values are rendered with a leading ``-``; sub-second values as ``"0.25s"``.
    """
    if seconds < 0:
        return "-" + format_duration(-seconds)
    if seconds < 1:
        return f"{seconds:.2f}s".replace("0.00s", "0s")
    whole = int(seconds)
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d{hours:02d}h"
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


__all__ = ["format_duration", "parse_duration"]
