"""``SecretManager``: the abstract reader with the lookup order every backend shares.

``get_secret(key)``:

1. a fresh entry in the in-process cache is returned at once: one dict lookup and one timer
   call, no lock, no syscall, no key validation (a bad key can never be in the cache);
2. on a miss the key is validated (``InvalidSecretKeyError`` before any I/O) and read from the
   backend, then cached;
3. if the backend is *unavailable*, the last cached value is served even if expired, with one
   warning naming the key, and re-armed for a few seconds so a hot loop does not hammer a
   backend that is down;
4. else (Vault and AWS) the agent's file for the key under ``SECRETS_DIR``, if present;
5. else ``SecretBackendUnavailableError``.

"Not found" and "access denied" are authoritative answers and are never served from stale data.
"""

from __future__ import annotations

import abc
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from .cache import SecretCache
from .config import resolve_ttl
from .errors import SecretBackendUnavailableError, SecretManagerError
from .files import read_secret_file
from .keys import validate_key

TYPE_CHECKING = False
if TYPE_CHECKING:
    import logging
    from types import TracebackType
    from typing import ClassVar, Self


def get_logger() -> logging.Logger:
    """The package's logger; ``logging`` is imported on first use (only slow paths log)."""
    import logging

    return logging.getLogger("libs.secrets")


#: While a backend is down, a stale value is served without asking it again for this long
#: (or the TTL, if shorter).
STALE_RETRY_SECONDS = 5.0


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
    ) -> None:
        env = os.environ if environ is None else environ
        self._cache = SecretCache(resolve_ttl(ttl_seconds, env), timer=timer)
        self._entries = self._cache._entries  # read directly by the hot path
        self._timer = timer
        self._fallback_dir = fallback_dir
        self._closed = False

    @property
    def cache(self) -> SecretCache:
        """The manager's cache (for inspection and explicit invalidation)."""
        return self._cache

    @property
    def ttl_seconds(self) -> float:
        """How long a value is served from the cache without asking the backend."""
        return self._cache.ttl_seconds

    def get_secret(self, key: str) -> str:
        """Return the value of ``key``.

        Raises ``InvalidSecretKeyError``, ``SecretNotFoundError`` (also ``KeyError``),
        ``SecretAccessDeniedError`` or ``SecretBackendUnavailableError``.
        """
        try:
            value, expires_at = self._entries[key]
        except (KeyError, TypeError):
            return self._get_uncached(key)
        if expires_at > self._timer():
            return value
        return self._get_uncached(key)

    def _get_uncached(self, key: str) -> str:
        secret_path, field = validate_key(key)
        generation = self._cache.generation
        try:
            value = self._fetch(key, secret_path, field)
        except SecretBackendUnavailableError as exc:
            return self._serve_fallback(key, exc)
        self._cache.set_if_generation(key, value, generation)
        return value

    def _serve_fallback(self, key: str, error: SecretBackendUnavailableError) -> str:
        retry = min(self._cache.ttl_seconds, STALE_RETRY_SECONDS)
        stale = self._cache.get_stale(key)
        if stale is not None:
            get_logger().warning(
                "%s backend unavailable (%s); serving the last cached value of secret %r",
                self.backend,
                error,
                key,
            )
            self._cache.set(key, stale, ttl=retry)
            return stale
        if self._fallback_dir is not None:
            try:
                value = read_secret_file(self._fallback_dir, key, backend=self.backend)
            except SecretManagerError as fallback_error:
                get_logger().debug(
                    "no agent file for secret %r under %s: %s",
                    key,
                    self._fallback_dir,
                    fallback_error,
                )
            else:
                get_logger().warning(
                    "%s backend unavailable (%s); serving secret %r from the agent's file under %s",
                    self.backend,
                    error,
                    key,
                    self._fallback_dir,
                )
                self._cache.set(key, value, ttl=retry)
                return value
        raise error

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


__all__ = ["STALE_RETRY_SECONDS", "SecretManager", "get_logger"]
