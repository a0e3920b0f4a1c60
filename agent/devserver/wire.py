"""Vault wire format: the parsed request, response envelopes, error bodies, timestamps and
durations."""

from __future__ import annotations

import json
import re
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from secrets_agent.devserver.tokens import Token

JSON_TYPE = "application/json"
PERMISSION_DENIED = "1 error occurred:\n\t* permission denied\n\n"
# No token at all, and a login at a path where no auth method is mounted: a bare string.
NO_TOKEN = "permission denied"  # noqa: S105
SEALED = "Vault is sealed"
DEFAULT_LEASE_SECONDS = 2764800  # 768h, the system default lease TTL

_TRUE = {"1", "t", "T", "TRUE", "true", "True"}
_FALSE = {"0", "f", "F", "FALSE", "false", "False"}

_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


@dataclass(slots=True)
class Request:
    """A parsed request. ``path`` is the logical path (after ``/v1/``, percent-decoded)."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    op: str = "read"
    data: dict[str, Any] = field(default_factory=dict)
    token: Token | None = None
    token_id: str | None = None


def parse_bool(text: str) -> bool:
    """Go's ``strconv.ParseBool``; ValueError otherwise."""
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(text)


@dataclass(slots=True)
class Reply:
    """One HTTP answer: status, JSON payload (``None`` = no body) and extra headers."""

    status: int
    payload: Any = None
    headers: list[tuple[str, str]] = field(default_factory=list)

    def body(self) -> bytes:
        """The encoded body; Go's encoder ends it with a newline."""
        if self.payload is None:
            return b""
        return (_encode(self.payload) + "\n").encode()


def envelope(
    data: Any = None,
    *,
    mount_type: str = "kv",
    auth: dict[str, Any] | None = None,
    warnings: list[str] | None = None,
    lease_duration: int = 0,
    renewable: bool = False,
) -> dict[str, Any]:
    """The standard nine-key response envelope, in Vault's key order."""
    return {
        "request_id": str(uuid.uuid4()),
        "lease_id": "",
        "renewable": renewable,
        "lease_duration": lease_duration,
        "data": data,
        "wrap_info": None,
        "warnings": warnings,
        "auth": auth,
        "mount_type": mount_type,
    }


def ok(data: Any = None, **kwargs: Any) -> Reply:
    """A 200 envelope reply."""
    return Reply(200, envelope(data, **kwargs))


def no_content() -> Reply:
    """A 204 reply with no body."""
    return Reply(204)


def error(status: int, *messages: str, headers: list[tuple[str, str]] | None = None) -> Reply:
    """An ``{"errors": [...]}`` reply."""
    return Reply(status, {"errors": list(messages)}, headers or [])


def rfc3339(ns: int) -> str:
    """Go ``RFC3339Nano`` in UTC (trailing zeros trimmed); ``""`` for 0 (unset)."""
    if not ns:
        return ""
    seconds, frac = divmod(ns, 1_000_000_000)
    text = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    if frac:
        text += "." + f"{frac:09d}".rstrip("0")
    return text + "Z"


def now_ns() -> int:
    """Wall-clock time in nanoseconds."""
    return time.time_ns()


_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNIT = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(value: Any) -> float:
    """Seconds from an int/float or a Go duration string ("90", "30s", "1h30m")."""
    if isinstance(value, bool):
        raise ValueError("invalid duration")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError("invalid duration")
        return float(value)
    if not isinstance(value, str) or not value:
        raise ValueError("invalid duration")
    text = value.strip()
    if re.fullmatch(r"\d+(?:\.\d+)?", text):
        return float(text)
    parts = _DURATION_PART.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError("invalid duration")
    return sum(float(n) * _UNIT[u] for n, u in parts)


def go_duration(seconds: float) -> str:
    """Go's ``time.Duration.String()`` for whole seconds: "0s", "1h0m0s", "3h25m19s"."""
    total = int(seconds)
    if total == 0:
        return "0s"
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"
