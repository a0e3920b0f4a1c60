"""``SecretCache``: an in-process TTL cache built for a lock-free hot read.

Entries live in a plain dict of ``key -> (value, refresh_at, expires_at)``. A fresh read is one
dict lookup and one timer call, with no lock: dict reads are atomic in CPython and every writer
replaces a whole tuple. Writers (``set``, ``invalidate``, ``clear``, ``claim_refresh``) serialise
on a lock, so eviction and the invalidation generation stay consistent.

``refresh_at`` is where the hot path stops: a value stored with the cache's TTL and a
``refresh_ahead`` fraction ``f`` is due for a refresh after ``(1 - f) * ttl`` and expires after
``ttl``; without refresh ahead (and for values stored with their own ``ttl``) both are the same.
Between the two the value is still fresh (``get`` returns it); ``claim_refresh`` lets exactly
one reader start the refresh and moves ``refresh_at`` to ``expires_at`` so that later reads take
the hot path again.

An expired entry is kept as the *stale* value for stale-if-error (``get_stale``) until it is
replaced, evicted (``maxsize``) or cleared. ``ttl_seconds=0`` therefore disables fresh hits but
still remembers values. The timer is read at most once per operation, so tests can pass a fake
clock and never sleep.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Hashable

_EXPIRED = -math.inf


class SecretCache:
    """TTL cache of secret values: ``get``/``set``/``get_stale``/``invalidate``/``clear``."""

    __slots__ = (
        "_entries",
        "_generation",
        "_lock",
        "maxsize",
        "refresh_ahead",
        "timer",
        "ttl_seconds",
    )

    def __init__(
        self,
        ttl_seconds: float,
        *,
        maxsize: int | None = None,
        timer: Callable[[], float] = time.monotonic,
        refresh_ahead: float = 0.0,
    ) -> None:
        """Raise ``ValueError`` for a negative or NaN TTL, a ``maxsize`` below 1, or a
        ``refresh_ahead`` fraction outside ``[0, 1)``."""
        ttl = float(ttl_seconds)
        if not ttl >= 0:  # also rejects NaN
            raise ValueError(f"ttl_seconds must be >= 0, got {ttl_seconds!r}")
        if maxsize is not None and maxsize < 1:
            raise ValueError(f"maxsize must be None or >= 1, got {maxsize!r}")
        if not 0 <= refresh_ahead < 1:
            raise ValueError(f"refresh_ahead must be >= 0 and < 1, got {refresh_ahead!r}")
        self.ttl_seconds = ttl
        self.maxsize = maxsize
        self.timer = timer
        self.refresh_ahead = float(refresh_ahead)
        self._entries: dict[Hashable, tuple[str, float, float]] = {}
        self._generation = 0
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> str | None:
        """Return the fresh value for ``key``, or ``None`` if absent or expired."""
        entry = self._entries.get(key)
        if entry is not None and entry[2] > self.timer():
            return entry[0]
        return None

    def get_stale(self, key: Hashable) -> str | None:
        """Return the last value stored for ``key`` whatever its age, or ``None``."""
        entry = self._entries.get(key)
        return None if entry is None else entry[0]

    def set(self, key: Hashable, value: str, *, ttl: float | None = None) -> None:
        """Store ``value`` fresh for ``ttl`` seconds (default: the cache's TTL)."""
        self._store(key, value, ttl, None)

    def invalidate(self, key: Hashable) -> None:
        """Make ``key`` stale: no more fresh hits, but ``get_stale`` still returns it."""
        with self._lock:
            self._generation += 1
            entry = self._entries.get(key)
            if entry is not None:
                self._entries[key] = (entry[0], _EXPIRED, _EXPIRED)

    def invalidate_where(self, predicate: Callable[[Hashable], bool]) -> int:
        """Make every key for which ``predicate(key)`` is true stale; return how many."""
        count = 0
        with self._lock:
            self._generation += 1
            for key, entry in list(self._entries.items()):
                if predicate(key):
                    self._entries[key] = (entry[0], _EXPIRED, _EXPIRED)
                    count += 1
        return count

    def claim_refresh(self, key: Hashable, entry: tuple[str, float, float]) -> bool:
        """Whether the caller that read ``entry`` should refresh ``key`` ahead of its expiry.

        True for exactly one caller per stored value: the entry's ``refresh_at`` is moved to its
        ``expires_at``, so later reads are plain hits until the value expires or is replaced.
        False if ``entry`` is no longer the stored one (replaced, invalidated or claimed).
        """
        with self._lock:
            if self._entries.get(key) is not entry:
                return False
            self._entries[key] = (entry[0], entry[2], entry[2])
            return True

    def clear(self) -> None:
        """Forget every value, fresh and stale."""
        with self._lock:
            self._generation += 1
            self._entries.clear()

    @property
    def generation(self) -> int:
        """A counter bumped by every invalidation; see ``set_if_generation``."""
        return self._generation

    def set_if_generation(
        self, key: Hashable, value: str, generation: int, *, ttl: float | None = None
    ) -> bool:
        """Store ``value``; fresh only if nothing was invalidated since ``generation`` was read.

        A value read from a source just before a concurrent invalidation is kept as stale
        instead of fresh, so it can never hide the change. Returns whether it was stored fresh.
        """
        return self._store(key, value, ttl, generation)

    def _store(self, key: Hashable, value: str, ttl: float | None, generation: int | None) -> bool:
        if ttl is None:
            lifetime = self.ttl_seconds
            ahead = lifetime * self.refresh_ahead
        else:
            lifetime, ahead = ttl, 0.0
        now = self.timer()
        with self._lock:
            fresh = generation is None or generation == self._generation
            expires_at = now + lifetime if fresh else _EXPIRED
            refresh_at = expires_at - ahead if fresh else _EXPIRED
            entries = self._entries
            if self.maxsize is not None and key not in entries:
                while len(entries) >= self.maxsize:
                    del entries[next(iter(entries))]  # the oldest key goes first
            # replaced in place: readers never see a gap
            entries[key] = (value, refresh_at, expires_at)
        return fresh

    def after_fork(self) -> None:
        """In a forked child: a new lock, in case a thread of the parent held the old one."""
        self._lock = threading.Lock()

    def __len__(self) -> int:
        """Number of values held, fresh or stale."""
        return len(self._entries)

    def __contains__(self, key: object) -> bool:
        """Whether ``key`` has a fresh value."""
        try:
            entry = self._entries.get(key)
        except TypeError:
            return False
        return entry is not None and entry[2] > self.timer()

    def __repr__(self) -> str:
        return (
            f"SecretCache(ttl_seconds={self.ttl_seconds!r}, maxsize={self.maxsize!r}, "
            f"refresh_ahead={self.refresh_ahead!r}, entries={len(self._entries)})"
        )


__all__ = ["SecretCache"]
