"""Token store: service tokens with policies, allowed paths (``policy``) and TTLs that expire."""

from __future__ import annotations

import secrets
import string
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from secrets_agent.devserver.policy import normalize_paths, path_allowed

# Paths every token may use (Vault's "default" policy grants these).
SELF_PATHS = (
    "auth/token/lookup-self",
    "auth/token/renew-self",
    "auth/token/revoke-self",
    "sys/capabilities-self",
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

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
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
    ) -> Token:
        """Create and store a token. ``ttl`` None or 0 = no expiry."""
        now = self.clock()
        names = list(policies or [])
        if "root" not in names and "default" not in names:
            names.insert(0, "default")
        token = Token(
            id=token_id or "hvs." + random_id(24),
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

    def renew(self, token: Token, increment: float | None) -> Token:
        """Extend the TTL (by ``increment`` or the creation TTL); ValueError if not renewable."""
        if not token.renewable or token.expire_at is None:
            raise ValueError("lease is not renewable")
        now = self.clock()
        token.expire_at = now + (increment if increment else token.ttl)
        token.last_renewal = now
        return token
