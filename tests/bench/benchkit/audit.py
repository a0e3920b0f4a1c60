"""Requests counted from OpenBao's file audit log.

The audit device writes one JSON line per request and one per response, each with the time the
server logged it, the token's display name (``token-<name>``, unhashed), the operation, the
path and, for a failed request, an ``error``. The benchmarks read the response lines only: one
per request the server answered while unsealed (a sealed server answers 503 and logs nothing).
A phase remembers the file size when it starts and reads what was appended since.
"""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass
from pathlib import Path

RESPONSE = b'"type":"response"'


@dataclass(frozen=True)
class Response:
    """One answered request: server time (Unix seconds), who, what, and whether it succeeded."""

    time: float
    who: str
    operation: str
    path: str
    ok: bool


class _Clock:
    """Parses the audit log's RFC 3339 UTC times (nanoseconds) with a per-second cache."""

    def __init__(self) -> None:
        self._seconds: dict[str, float] = {}

    def parse(self, stamp: str) -> float:
        base, _, frac = stamp.rstrip("Z").partition(".")
        whole = self._seconds.get(base)
        if whole is None:
            moment = datetime.datetime.fromisoformat(base).replace(tzinfo=datetime.UTC)
            whole = self._seconds[base] = moment.timestamp()
        return whole + (float(f"0.{frac}") if frac else 0.0)


class AuditLog:
    """The audit file of one server, read incrementally by byte offset."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._clock = _Clock()

    def offset(self) -> int:
        """The current end of the log: pass it to :meth:`responses` to read what follows."""
        try:
            return self.path.stat().st_size
        except FileNotFoundError:
            return 0

    def responses(self, start: int, end: int | None = None) -> tuple[list[Response], int]:
        """Responses logged between byte ``start`` and ``end`` (default: the end now), and the
        offset reached (a trailing partial line is left for the next call)."""
        with self.path.open("rb") as f:
            f.seek(start)
            data = f.read() if end is None else f.read(max(0, end - start))
        cut = data.rfind(b"\n") + 1
        found = [self._parse(line) for line in data[:cut].splitlines() if RESPONSE in line[:80]]
        return [r for r in found if r is not None], start + cut

    def _parse(self, line: bytes) -> Response | None:
        try:
            entry = json.loads(line)
        except ValueError:
            return None
        request = entry.get("request") or {}
        auth = entry.get("auth") or {}
        return Response(
            time=self._clock.parse(entry["time"]),
            who=str(auth.get("display_name", "")),
            operation=str(request.get("operation", "")),
            path=str(request.get("path", "")),
            ok=not entry.get("error"),
        )


def by(
    responses: list[Response], who: str, t0: float = 0.0, t1: float = float("inf")
) -> list[Response]:
    """The responses to token ``who`` (its display name) logged in ``[t0, t1)``."""
    return [r for r in responses if r.who == who and t0 <= r.time < t1]


def secret_reads(responses: list[Response], data_prefix: str) -> list[Response]:
    """Successful reads of KV data paths starting with ``data_prefix``."""
    return [
        r for r in responses if r.ok and r.operation == "read" and r.path.startswith(data_prefix)
    ]
