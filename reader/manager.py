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
"""

from __future__ import annotations

import abc
import contextlib
import os
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from .background import BackgroundWorkers
from .cache import SecretCache
from .config import resolve_refresh_ahead, resolve_ttl
from .errors import SecretBackendUnavailableError, SecretManagerError
from .files import read_secret_file
from .keys import validate_key
from .outage_memory import OutageMemory
from .single_flight import Call, SingleFlight

TYPE_CHECKING = False
if TYPE_CHECKING:
    import logging
    from asyncio import Future
    from types import TracebackType
    from typing import ClassVar, Self


def get_logger() -> logging.Logger:
    """The package's logger; ``logging`` is imported on first use (only slow paths log)."""
    import logging

    return logging.getLogger("libs.secrets")


#: While a backend is down, a stale value is served without asking it again for this long
#: (or the TTL, if shorter).
STALE_RETRY_SECONDS = 5.0
#: The longest a caller waits for another caller's read of the same key, or for one of the
#: ``MAX_CONCURRENT_READS`` slots, before it is served as if the backend were unavailable.
WAIT_SECONDS = 30.0
#: Backend reads one manager runs at once: the connection pools of requests (hvac) and botocore
#: hold 10 connections, so more would open and discard connections ("Connection pool is full").
MAX_CONCURRENT_READS = 10
#: Daemon threads that refresh values ahead of their expiry.
REFRESH_WORKERS = 2


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
        self._fallback_dir = fallback_dir
        self._closed = False
        self._flights = SingleFlight()
        self._outage = OutageMemory(self.backend, timer=timer)
        self._read_slots = threading.BoundedSemaphore(MAX_CONCURRENT_READS)
        self._refresher = BackgroundWorkers(
            f"libs.secrets {self.backend} refresh", workers=REFRESH_WORKERS
        )
        self.wait_seconds = WAIT_SECONDS

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
        return self._outage

    def get_secret(self, key: str) -> str:
        """Return the value of ``key``.

        Raises ``InvalidSecretKeyError``, ``SecretNotFoundError`` (also ``KeyError``),
        ``SecretAccessDeniedError`` or ``SecretBackendUnavailableError``.
        """
        try:
            value, refresh_at, _ = self._entries[key]
        except (KeyError, TypeError):
            return self._get_uncached(key)
        if refresh_at > self._timer():
            return value
        return self._get_due(key)

    async def aget_secret(self, key: str) -> str:
        """``get_secret`` for ``asyncio``: same values, errors and cache, shared with threads.

        A hit returns without leaving the event loop; a miss runs the backend read on the
        loop's default executor and shares it with every caller missing the same key, sync
        or async.
        """
        try:
            value, refresh_at, _ = self._entries[key]
        except (KeyError, TypeError):
            return await self._aget_uncached(key)
        if refresh_at > self._timer():
            return value
        return await self._aget_due(key)

    def _get_due(self, key: str) -> str:
        due = self._serve_due(key)
        return self._get_uncached(key) if due is None else due

    async def _aget_due(self, key: str) -> str:
        due = self._serve_due(key)
        return await self._aget_uncached(key) if due is None else due

    def _serve_due(self, key: str) -> str | None:
        """The value of ``key`` if still fresh (queueing one refresh ahead of expiry), else None."""
        entry = self._entries.get(key)
        if entry is None or not entry[2] > self._timer():
            return None
        if self._cache.claim_refresh(key, entry):
            self._refresher.submit(self._refresh, key)
        return entry[0]

    def _get_uncached(self, key: str) -> str:
        secret_path, field = validate_key(key)
        call, leader = self._flights.join(key)
        if leader:
            return self._flights.run(key, call, lambda: self._load(key, secret_path, field))
        try:
            return call.result(self.wait_seconds)
        except TimeoutError:
            return self._serve_fallback(key, self._wait_error(key))

    async def _aget_uncached(self, key: str) -> str:
        import asyncio

        secret_path, field = validate_key(key)
        call, leader = self._flights.join(key)
        loop = asyncio.get_running_loop()
        if leader:
            loop.run_in_executor(None, self._lead_quietly, key, call, secret_path, field)
        waiter = loop.create_future()
        call.add_done_callback(lambda done: loop.call_soon_threadsafe(_settle, waiter, done))
        try:
            return await asyncio.wait_for(waiter, self.wait_seconds)
        except TimeoutError:
            return self._serve_fallback(key, self._wait_error(key))

    def _lead_quietly(self, key: str, call: Call, secret_path: str, field: str) -> None:
        """Lead ``call`` on an executor thread; the outcome goes to the waiters only."""
        with contextlib.suppress(Exception):
            self._flights.run(key, call, lambda: self._load(key, secret_path, field))

    def _wait_error(self, key: str) -> SecretBackendUnavailableError:
        return SecretBackendUnavailableError(
            f"secret {key!r}: no answer from the {self.backend} backend within "
            f"{self.wait_seconds:g}s",
            backend=self.backend,
            key=key,
        )

    def _load(self, key: str, secret_path: str, field: str) -> str:
        """The leader's read: the cache again, then the backend unless it is known down."""
        entry = self._entries.get(key)
        if entry is not None and entry[2] > self._timer():
            return entry[0]  # stored by a leader that finished between our miss and our join
        blocked = self._outage.admit(key)
        if blocked is not None:
            return self._serve_fallback(key, blocked)
        try:
            return self._read_and_store(key, secret_path, field)
        except SecretBackendUnavailableError as exc:
            return self._serve_fallback(key, exc)

    def _read_and_store(self, key: str, secret_path: str, field: str) -> str:
        """One backend read in one of the read slots; the outcome goes to the outage memory."""
        generation = self._cache.generation
        if not self._read_slots.acquire(timeout=self.wait_seconds):
            self._outage.abandoned()
            raise self._wait_error(key)
        try:
            value = self._fetch(key, secret_path, field)
        except SecretBackendUnavailableError as exc:
            self._outage.failed(exc)
            raise
        except SecretManagerError:
            self._outage.answered()
            raise
        except BaseException:
            self._outage.abandoned()
            raise
        finally:
            self._read_slots.release()
        self._outage.answered()
        if not self._closed:
            self._cache.set_if_generation(key, value, generation)
        return value

    def _refresh(self, key: str) -> None:
        """Background job: read ``key`` again ahead of its expiry, as the single flight's leader."""
        if self._closed:
            return
        call, leader = self._flights.join(key)
        if not leader:
            return  # a miss is reading it already
        with contextlib.suppress(SecretManagerError):  # logged; any follower has it
            self._flights.run(key, call, lambda: self._refresh_read(key))

    def _refresh_read(self, key: str) -> str:
        secret_path, field = validate_key(key)
        error: SecretManagerError | None = self._outage.admit(key)
        if error is None:  # else the outage memory has logged the outage
            try:
                return self._read_and_store(key, secret_path, field)
            except SecretManagerError as exc:
                get_logger().warning(
                    "refreshing secret %r ahead of its expiry failed (%s); the cached value is "
                    "served until it expires",
                    key,
                    exc,
                )
                error = exc
        return self._after_failed_refresh(key, error)

    def _after_failed_refresh(self, key: str, error: SecretManagerError) -> str:
        """What a caller waiting on a failed refresh gets: the value while fresh, else the
        rules of a miss (stale value or agent file for an outage, else the error)."""
        entry = self._entries.get(key)
        if entry is not None and entry[2] > self._timer():
            return entry[0]
        if isinstance(error, SecretBackendUnavailableError):
            return self._serve_fallback(key, error)
        raise error

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
        self._refresher.close()
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


def _settle(waiter: Future[str], call: Call) -> None:
    """Copy a published call's outcome to an ``asyncio`` future (unless it was cancelled)."""
    if waiter.done():
        return
    value, error = call.outcome()
    if error is None:
        waiter.set_result(value)
    else:
        waiter.set_exception(error)


__all__ = [
    "MAX_CONCURRENT_READS",
    "REFRESH_WORKERS",
    "STALE_RETRY_SECONDS",
    "WAIT_SECONDS",
    "SecretManager",
    "get_logger",
]
