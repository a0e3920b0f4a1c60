"""``SecretManager``: the abstract reader with the lookup order every backend shares.

``get_secret(key)`` (and ``await aget_secret(key)``, the same for ``asyncio``):

1. a fresh entry in the in-process cache is returned at once: one dict lookup and one timer
   call, no lock, no syscall, no key validation (a bad key can never be in the cache). Read
   within the last ``refresh_ahead`` fraction of its TTL, the entry is still returned at once,
   and the first such read queues one refresh on the manager's background workers;
2. on a miss the key is validated (``InvalidSecretKeyError`` before any I/O) and read from the
   backend, then cached. Concurrent misses of one key make one read (``SingleFlight``): the
   others wait for its value or error, for at most ``wait_seconds``;
3. if the backend is *unavailable*, the last cached value is served even if expired, with one
   warning naming the key, and re-armed for a few seconds so a hot loop does not hammer a
   backend that is down. The outage is remembered for every key (``OutageMemory``): further
   misses skip the backend for a backed-off window while one probe checks it;
4. else (Vault and AWS) the agent's file for the key under ``SECRETS_DIR``, if present;
5. else ``SecretBackendUnavailableError``.

"Not found" and "access denied" are authoritative answers and are never served from stale data.
A refresh ahead of expiry that fails leaves the cached value in place until it expires (logged
once, naming the key); what happens then is steps 2-5.

This class holds step 1, the hot path; everything after a miss is its ``SecretLoader``.
"""

from __future__ import annotations

import abc
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from .cache import SecretCache
from .config import resolve_refresh_ahead, resolve_ttl
from .loader import (
    MAX_CONCURRENT_READS,
    REFRESH_WORKERS,
    STALE_RETRY_SECONDS,
    WAIT_SECONDS,
    SecretLoader,
)
from .logger import get_logger
from .outage_memory import OutageMemory

TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import TracebackType
    from typing import ClassVar, Self


class SecretManager(abc.ABC):
    """Reads secrets by key through an in-process TTL cache; see the module docstring.

    Subclasses set ``backend`` and implement ``_fetch``. Managers are context managers;
    ``close()`` releases clients and background threads.
    """

    backend: ClassVar[str] = "abstract"

    def __init__(
        self,
        *,
        ttl_seconds: float | None = None,
        timer: Callable[[], float] = time.monotonic,
        fallback_dir: Path | None = None,
        environ: Mapping[str, str] | None = None,
        refresh_ahead: float | None = None,
    ) -> None:
        env = os.environ if environ is None else environ
        self._cache = SecretCache(
            resolve_ttl(ttl_seconds, env),
            timer=timer,
            refresh_ahead=resolve_refresh_ahead(refresh_ahead, env),
        )
        self._entries = self._cache._entries  # read directly by the hot path
        self._timer = timer
        self._closed = False
        self._loader = SecretLoader(
            self.backend, self._fetch, self._cache, timer=timer, fallback_dir=fallback_dir
        )

    @property
    def cache(self) -> SecretCache:
        """The manager's cache (for inspection and explicit invalidation)."""
        return self._cache

    @property
    def ttl_seconds(self) -> float:
        """How long a value is served from the cache without asking the backend."""
        return self._cache.ttl_seconds

    @property
    def refresh_ahead(self) -> float:
        """Last fraction of the TTL, in which a read refreshes the value in the background."""
        return self._cache.refresh_ahead

    @property
    def outage(self) -> OutageMemory:
        """The manager's memory of a backend outage (for inspection)."""
        return self._loader.outage

    @property
    def wait_seconds(self) -> float:
        """The longest a caller waits for another caller's read of the same key."""
        return self._loader.wait_seconds

    @wait_seconds.setter
    def wait_seconds(self, seconds: float) -> None:
        self._loader.wait_seconds = seconds

    def get_secret(self, key: str) -> str:
        """Return the value of ``key``.

        Raises ``InvalidSecretKeyError``, ``SecretNotFoundError`` (also ``KeyError``),
        ``SecretAccessDeniedError`` or ``SecretBackendUnavailableError``.
        """
        try:
            value, refresh_at, _ = self._entries[key]
        except (KeyError, TypeError):
            return self._loader.get(key)
        if refresh_at > self._timer():
            return value
        due = self._loader.serve_due(key)
        return self._loader.get(key) if due is None else due

    async def aget_secret(self, key: str) -> str:
        """``get_secret`` for ``asyncio``: same values, errors and cache, shared with threads.

        A hit returns without leaving the event loop; a miss runs the backend read on the
        loop's default executor and shares it with every caller missing the same key, sync
        or async.
        """
        try:
            value, refresh_at, _ = self._entries[key]
        except (KeyError, TypeError):
            return await self._loader.aget(key)
        if refresh_at > self._timer():
            return value
        return await self._aget_due(key)

    async def _aget_due(self, key: str) -> str:
        due = self._loader.serve_due(key)
        return await self._loader.aget(key) if due is None else due

    @abc.abstractmethod
    def _fetch(self, key: str, secret_path: str, field: str) -> str:
        """Read one validated key from the backend, raising only ``SecretManagerError``s."""

    def invalidate(self, key: str | None = None) -> None:
        """Drop the fresh cache entry of ``key`` (or of every key): the next read asks the source.

        The old value stays available for stale-if-error.
        """
        if key is None:
            self._cache.invalidate_where(lambda _key: True)
        else:
            self._cache.invalidate(key)

    def close(self) -> None:
        """Release clients and background threads and forget cached values. Idempotent."""
        if not self._closed:
            self._closed = True
            self._close()

    def _close(self) -> None:
        """Backend-specific cleanup; subclasses call ``super()._close()``."""
        self._loader.close()
        self._cache.clear()  # a closed manager keeps no secret values in memory

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _describe(self) -> str:
        return ""

    def __repr__(self) -> str:
        details = self._describe()
        extra = f", {details}" if details else ""
        return (
            f"{type(self).__name__}(backend={self.backend!r}, "
            f"ttl_seconds={self._cache.ttl_seconds!r}{extra})"
        )


__all__ = [
    "MAX_CONCURRENT_READS",
    "REFRESH_WORKERS",
    "STALE_RETRY_SECONDS",
    "WAIT_SECONDS",
    "SecretManager",
    "get_logger",
]
