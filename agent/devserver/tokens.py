"""Token store: service tokens with policies, allowed paths (``policy``) and TTLs that expire."""

from __future__ import annotations

import secrets
import string
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from secrets_agent.devserver.policy import normalize_paths, path_allowed
from secrets_agent.devserver.wire import go_duration

# Paths every token may use (Vault's "default" policy grants these).
SELF_PATHS = (
    "auth/token/lookup-self",
    "auth/token/renew-self",
    "auth/token/revoke-self",
    "sys/capabilities-self",
    "sys/wrapping/wrap",
    "sys/wrapping/lookup",
    "sys/wrapping/unwrap",
)
_ALPHABET = string.ascii_letters + string.digits


def random_id(length: int = 24) -> str:
    """A random alphanumeric string (the shape of Vault accessors)."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


@dataclass(slots=True)
class Token:
    """A token's record; ``paths``: the policy paths it may use (``None`` = any path)."""

    id: str
    accessor: str
    policies: list[str]
    paths: tuple[str, ...] | None
    path: str
    display_name: str
    creation_time: float
    ttl: float  # creation TTL, 0 = never expires
    expire_at: float | None
    renewable: bool
    orphan: bool = False
    meta: dict[str, str] | None = None
    num_uses: int = 0
    last_renewal: float | None = None
    period: float = 0.0  # periodic token: each renewal sets the TTL to this
    explicit_max_ttl: float = 0.0  # 0 = no cap beyond the TTL
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def is_root(self) -> bool:
        return "root" in self.policies

    def allows(self, path: str) -> bool:
        """Whether this token's policy covers ``path``."""
        if self.paths is None or path in SELF_PATHS:
            return True
        return path_allowed(self.paths, path)

    def remaining(self, now: float) -> int:
        return 0 if self.expire_at is None else max(0, int(self.expire_at - now))


class TokenStore:
    """Tokens by id. Not thread-safe by itself: the caller holds the state lock."""

    def __init__(self, clock: Callable[[], float] = time.time, prefix: str = "hvs.") -> None:
        self.clock = clock
        self.prefix = prefix
        self._tokens: dict[str, Token] = {}

    def create(
        self,
        *,
        policies: Iterable[str] | None = None,
        paths: Iterable[str] | None = None,
        ttl: float | None = None,
        renewable: bool = True,
        path: str = "auth/token/create",
        display_name: str = "token",
        meta: dict[str, str] | None = None,
        orphan: bool = False,
        token_id: str | None = None,
        period: float = 0.0,
        explicit_max_ttl: float = 0.0,
    ) -> Token:
        """Create and store a token. ``ttl`` None or 0 = no expiry; a ``period`` replaces the
        TTL; ``explicit_max_ttl`` caps it (from creation, renewals included)."""
        now = self.clock()
        ttl = period or ttl
        if explicit_max_ttl and (not ttl or ttl > explicit_max_ttl):
            ttl = explicit_max_ttl
        names = list(policies or [])
        if "root" not in names and "default" not in names:
            names.insert(0, "default")
        token = Token(
            id=token_id or self.prefix + random_id(24),
            accessor=random_id(24),
            policies=sorted(set(names)),
            paths=None if "root" in names else normalize_paths(paths),
            path=path,
            display_name=display_name,
            creation_time=now,
            ttl=float(ttl or 0),
            expire_at=now + ttl if ttl else None,
            renewable=renewable and bool(ttl),
            orphan=orphan,
            meta=meta,
            period=float(period),
            explicit_max_ttl=float(explicit_max_ttl),
        )
        self._tokens[token.id] = token
        return token

    def lookup(self, token_id: str) -> Token | None:
        """The live token, or ``None`` if unknown, revoked or expired."""
        token = self._tokens.get(token_id)
        if token is None:
            return None
        if token.expire_at is not None and token.expire_at <= self.clock():
            del self._tokens[token_id]
            return None
        return token

    def revoke(self, token_id: str) -> None:
        self._tokens.pop(token_id, None)

    def renew(self, token: Token, increment: float | None) -> list[str] | None:
        """Extend the TTL (by ``increment`` or the creation TTL; a periodic token by its period),
        capped by ``explicit_max_ttl``; returns Vault's warnings (None if none). ValueError if
        not renewable."""
        if not token.renewable or token.expire_at is None:
            raise ValueError("lease is not renewable")
        now = self.clock()
        wanted = token.period or increment or token.ttl
        token.expire_at = now + wanted
        token.last_renewal = now
        if token.explicit_max_ttl:
            cap = token.creation_time + token.explicit_max_ttl
            if token.expire_at > cap:
                token.expire_at = cap
                limit = _short(token.explicit_max_ttl)
                return [f'TTL of "{_short(wanted)}" exceeded the effective max_ttl of '
                        f'"{limit}"; TTL value is capped accordingly']  # fmt: skip
        return None


def _short(seconds: float) -> str:
    """A duration as Vault's TTL warnings print it: "5h", "1h30m", "90s"."""
    text = go_duration(seconds)
    if text != "0s" and text.endswith("m0s"):
        text = text[:-2]
    if text.endswith("h0m"):
        text = text[:-2]
    return text
