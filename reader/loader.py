"""``SecretLoader``: what a manager does when a read is not a plain cache hit.

A *miss* is validated, then read once however many callers want it (``SingleFlight``): the
leader asks the backend unless the ``OutageMemory`` says it is down, in one of
``MAX_CONCURRENT_READS`` slots, and stores the value; followers wait at most ``wait_seconds``.
An unavailable backend is answered by the fallbacks: the last cached value (re-armed for a few
seconds), else the agent's file, else ``SecretBackendUnavailableError``.

A read *due* for a refresh (in the last ``refresh_ahead`` fraction of its TTL) returns the
cached value and queues one refresh on ``BackgroundWorkers``; the refresh is the single flight's
leader for the key, so a miss arriving meanwhile waits for it instead of reading again. A failed
refresh is logged once and leaves the value until it expires.

A forked child (a pre-forking server that built its manager before the fork) inherits none of
the parent's threads: every loader then starts over with no open call, no outage, free read
slots and no worker, so a read the parent had under way cannot leave the child waiting for it.
"""

from __future__ import annotations

import contextlib
import os
import threading
from _weakrefset import WeakSet  # what threading uses: loaded already, unlike weakref
from collections.abc import Callable
from pathlib import Path

from .background import BackgroundWorkers
from .cache import SecretCache
from .errors import SecretBackendUnavailableError, SecretManagerError
from .files import read_secret_file
from .keys import agent_file_of, validate_key
from .logger import get_logger
from .outage_memory import OutageMemory
from .single_flight import Call, SingleFlight

TYPE_CHECKING = False
if TYPE_CHECKING:
    from asyncio import Future

#: While a backend is down, a stale value is served without asking it again for this long
#: (or the TTL, if shorter).
STALE_RETRY_SECONDS = 5.0
#: The longest a caller waits for another caller's read of the same key, or for one of the
#: ``MAX_CONCURRENT_READS`` slots, before it is answered as if the backend were unavailable.
WAIT_SECONDS = 30.0
#: Backend reads one manager runs at once: the connection pools of requests (hvac) and botocore
#: hold 10 connections, so more would open and discard connections ("Connection pool is full").
MAX_CONCURRENT_READS = 10
#: Daemon threads that refresh values ahead of their expiry.
REFRESH_WORKERS = 2

Fetch = Callable[[str, str, str], str]


class SecretLoader:
    """The miss path of one manager: ``get``/``aget`` (misses), ``serve_due``, ``close``."""

    def __init__(
        self,
        backend: str,
        fetch: Fetch,
        cache: SecretCache,
        *,
        timer: Callable[[], float],
        fallback_dir: Path | None = None,
    ) -> None:
        self.backend = backend
        self._fetch = fetch
        self._cache = cache
        self._entries = cache._entries
        self._timer = timer
        self._fallback_dir = fallback_dir
        self.wait_seconds = WAIT_SECONDS
        self._closed = False
        self._start_over()
        _LIVE.add(self)

    def _start_over(self) -> None:
        self.flights = SingleFlight()
        self.outage = OutageMemory(self.backend, timer=self._timer)
        self.refresher = BackgroundWorkers(
            f"libs.secrets {self.backend} refresh", workers=REFRESH_WORKERS
        )
        self._read_slots = threading.BoundedSemaphore(MAX_CONCURRENT_READS)

    # -- entry points --------------------------------------------------------------------------

    def get(self, key: str) -> str:
        """Read ``key`` after a miss; raises what ``get_secret`` documents."""
        secret_path, field = validate_key(key, self.backend)
        call, leader = self.flights.join(key)
        if leader:
            return self.flights.run(key, call, lambda: self._load(key, secret_path, field))
        try:
            return call.result(self.wait_seconds)
        except TimeoutError:
            return self._serve_fallback(key, self._wait_error(key))

    async def aget(self, key: str) -> str:
        """``get`` for ``asyncio``: the read runs on the loop's default executor."""
        import asyncio

        secret_path, field = validate_key(key, self.backend)
        call, leader = self.flights.join(key)
        loop = asyncio.get_running_loop()
        if leader:
            try:
                loop.run_in_executor(None, self._lead_quietly, key, call, secret_path, field)
            except RuntimeError as exc:  # the executor is shut down: never leave the call open
                self.flights.finish(key, call, "", exc)
                raise
        waiter = loop.create_future()
        call.add_done_callback(lambda done: loop.call_soon_threadsafe(_settle, waiter, done))
        try:
            return await asyncio.wait_for(waiter, self.wait_seconds)
        except TimeoutError:
            return self._serve_fallback(key, self._wait_error(key))

    def serve_due(self, key: str) -> str | None:
        """The value of ``key`` if still fresh (queueing one refresh ahead of expiry), else None."""
        entry = self._entries.get(key)
        if entry is None or not entry[2] > self._timer():
            return None
        if self._cache.claim_refresh(key, entry):
            self.refresher.submit(self._refresh, key)
        return entry[0]

    def close(self) -> None:
        """Stop the refresh workers; reads still under way store nothing."""
        self._closed = True
        self.refresher.close()

    # -- the leader's read ---------------------------------------------------------------------

    def _lead_quietly(self, key: str, call: Call, secret_path: str, field: str) -> None:
        with contextlib.suppress(Exception):  # the outcome goes to the waiters only
            self.flights.run(key, call, lambda: self._load(key, secret_path, field))

    def _load(self, key: str, secret_path: str, field: str) -> str:
        entry = self._entries.get(key)
        if entry is not None and entry[2] > self._timer():
            return entry[0]  # stored by a leader that finished between our miss and our join
        blocked = self.outage.admit(key)
        if blocked is not None:
            return self._serve_fallback(key, blocked)
        try:
            return self._read_and_store(key, secret_path, field)
        except SecretBackendUnavailableError as exc:
            return self._serve_fallback(key, exc)

    def _read_and_store(self, key: str, secret_path: str, field: str) -> str:
        """One backend read in a read slot; its outcome goes to the outage memory."""
        generation = self._cache.generation
        if not self._read_slots.acquire(timeout=self.wait_seconds):
            self.outage.abandoned()
            raise self._wait_error(key)
        try:
            value = self._fetch(key, secret_path, field)
        except SecretBackendUnavailableError as exc:
            self.outage.failed(exc)
            raise
        except SecretManagerError:
            self.outage.answered()
            raise
        except BaseException:
            self.outage.abandoned()
            raise
        finally:
            self._read_slots.release()
        self.outage.answered()
        if not self._closed:
            self._cache.set_if_generation(key, value, generation)
        return value

    def _wait_error(self, key: str) -> SecretBackendUnavailableError:
        return SecretBackendUnavailableError(
            f"secret {key!r}: no answer from the {self.backend} backend within "
            f"{self.wait_seconds:g}s",
            backend=self.backend,
            key=key,
        )

    # -- refresh ahead -------------------------------------------------------------------------

    def _refresh(self, key: str) -> None:
        if self._closed:
            return
        call, leader = self.flights.join(key)
        if not leader:
            return  # a miss is reading it already
        with contextlib.suppress(SecretManagerError):  # logged; any follower has it
            self.flights.run(key, call, lambda: self._refresh_read(key))

    def _refresh_read(self, key: str) -> str:
        secret_path, field = validate_key(key, self.backend)
        error: SecretManagerError | None = self.outage.admit(key)
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
        entry = self._entries.get(key)
        if entry is not None and entry[2] > self._timer():
            return entry[0]
        if isinstance(error, SecretBackendUnavailableError):  # expired meanwhile: a miss's rules
            return self._serve_fallback(key, error)
        raise error

    # -- fallbacks -----------------------------------------------------------------------------

    def _serve_fallback(self, key: str, error: SecretBackendUnavailableError) -> str:
        """The last cached value, else the agent's file (re-armed for a few seconds); else raise."""
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
        name = agent_file_of(key)
        if self._fallback_dir is not None and name is not None:
            try:
                value = read_secret_file(self._fallback_dir, name, backend=self.backend)
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


_LIVE: WeakSet[SecretLoader] = WeakSet()


def _start_over_in_child() -> None:
    for loader in list(_LIVE):
        loader._cache.after_fork()
        if not loader._closed:
            loader._start_over()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_start_over_in_child)


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
    "SecretLoader",
]
