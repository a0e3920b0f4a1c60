"""KV v2 directory listings as evidence that secrets still hold the version the agent wrote.

OpenBao answers ``LIST <mount>/detailed-metadata/<directory>`` with every key's metadata: its
current version, when that version was written, and whether it is deleted or destroyed, up to
``PAGE`` keys a page. One listing confirms every configured secret of the directory that did
not change, so an agent with thousands of secrets re-reads only the ones that did: the steady
state costs a few listings per interval instead of one read per secret (for the agent and for
the server).

* A directory is listed only when at least ``LIST_MIN`` configured secrets live in it
  (``expect``), and no more than once per ``max_age`` (the caller's bound on how old the
  evidence may be): workers asking at the same time wait for one listing.
* A directory that cannot be listed (HashiCorp Vault has no such endpoint; a token may lack
  ``list`` on it; a 404 for a directory that is gone) or that holds more than ``WIDE`` times
  its configured secrets, or whose listing takes more than ``SLOW_SHARE`` of ``max_age`` (a
  large directory on a short interval), is left to per-secret reads, and tried again
  ``RETRY_REFUSED`` later.
  A backend that gives no answer gives no evidence either: the reads that follow report it.
* A secret's stamp is ``version_stamp(version, created_time)``: a secret deleted and created
  again starts again at version 1, with another creation time. A current version that is
  deleted or destroyed has no stamp, so the secret is read (and reports itself missing).
* A listing is kept as a sorted array of ``hash((key, stamp))`` numbers, nothing else: no key
  names, no values (listings hold none), 8 bytes a key.
"""

from __future__ import annotations

import logging
import threading
import time
from array import array
from bisect import bisect_left
from collections import Counter
from collections.abc import Callable, Iterable, Mapping

from secrets_agent.sources.base import split_path
from secrets_agent.sources.result import SourceError

__all__ = [
    "LIST_MIN",
    "PAGE",
    "KvListings",
    "ListingRefusedError",
    "split_path",
    "version_stamp",
]

log = logging.getLogger(__name__)

PAGE = 100  # keys a page: one answer (and its decoding) stays under ~100 KB
LIST_MIN = 8  # configured secrets a directory needs before listing it beats reading them
WIDE = 4  # a directory listing more than WIDE x its configured secrets (+ a page) is not listed
RETRY_REFUSED = 600.0  # seconds until a directory that could not be listed is tried again
# A listing that takes longer than this share of the most its evidence may age (a large
# directory on a short interval) would be stale for most of its use: the directory is read.
SLOW_SHARE = 0.5

# One page: (stamps of its keys, how many keys it listed, the last key or None at the end).
Page = tuple[list[int], int, str | None]
PageReader = Callable[[str, str | None], Page]


class ListingRefusedError(SourceError):
    """The server will not list this directory (no endpoint, no ``list`` capability, gone)."""


def version_stamp(version: object, created_time: object) -> int | None:
    """The stamp of a KV v2 version: its number and creation time, or None when either is
    missing or not what Vault sends."""
    if not isinstance(created_time, str) or not created_time:
        return None
    if isinstance(version, bool) or not isinstance(version, int | str):
        return None
    return hash((str(version), created_time))


def page_stamps(body: object, *, limit: int) -> Page:
    """Decode one ``detailed-metadata`` page: the stamps of its keys with a live current
    version, the number of keys listed, and the key to continue after (None: last page).
    Raises ``ValueError`` for an answer of another shape."""
    data = body.get("data") if isinstance(body, dict) else None
    keys = data.get("keys") if isinstance(data, dict) else None
    info = data.get("key_info") if isinstance(data, dict) else None
    if not isinstance(keys, list) or not isinstance(info, dict):
        raise ValueError("not a detailed-metadata listing")
    stamps: list[int] = []
    for key, meta in info.items():
        stamp = _live_stamp(meta)
        if stamp is not None:
            stamps.append(hash((key, stamp)))
    last = keys[-1] if keys and len(keys) >= limit and isinstance(keys[-1], str) else None
    return stamps, len(keys), last


def _live_stamp(meta: object) -> int | None:
    if not isinstance(meta, dict):
        return None  # a sub-directory ("name/": {})
    current = meta.get("current_version")
    versions = meta.get("versions")
    if isinstance(current, bool) or not isinstance(current, int) or not isinstance(versions, dict):
        return None
    version = versions.get(str(current))
    if not isinstance(version, dict) or version.get("destroyed") is not False:
        return None
    if version.get("deletion_time") not in ("", None):
        return None
    return version_stamp(current, version.get("created_time"))


class _Listing:
    """One directory's listing: when it was started, and its sorted ``hash((key, stamp))``."""

    __slots__ = ("at", "stamps")

    def __init__(self, at: float, stamps: list[int]) -> None:
        self.at = at
        self.stamps = array("q", sorted(stamps))

    def __contains__(self, mark: int) -> bool:
        stamps = self.stamps
        i = bisect_left(stamps, mark)
        return i < len(stamps) and stamps[i] == mark


def _boot_clock() -> float:
    return time.clock_gettime(time.CLOCK_BOOTTIME)


class KvListings:
    """The listings of one source (see the module docstring). Thread-safe."""

    def __init__(self, *, clock: Callable[[], float] | None = None) -> None:
        # Boot time counts a suspend or a paused VM: a listing from before one is old.
        self._clock = clock or _boot_clock
        self._lock = threading.Lock()
        self._sizes: dict[str, int] = {}
        self._listings: dict[str, _Listing] = {}
        self._refused: dict[str, float] = {}  # directory -> when to try again
        self._listing_now: dict[str, threading.Lock] = {}
        self.listed = 0  # pages read so far (for tests and diagnostics)

    def expect(self, paths: Iterable[str]) -> None:
        """The secrets the agent will ask about: decides which directories are worth listing
        (listings of directories no longer expected are dropped)."""
        sizes = Counter(split_path(p)[0] for p in set(paths))  # a path of several targets: 1
        with self._lock:
            self._sizes = {d: n for d, n in sizes.items() if n >= LIST_MIN}
            for directory in list(self._listings):
                if directory not in self._sizes:
                    del self._listings[directory]

    def may_confirm(self, path: str) -> bool:
        """True if ``path``'s directory is listed (or will be): only then is a stamp worth
        keeping (``SecretData.stamp``), and the files' identity worth taking."""
        directory = split_path(path)[0]
        with self._lock:
            if directory not in self._sizes:
                return False
            refused = self._refused.get(directory)
        return refused is None or self._clock() >= refused

    def confirmed(
        self, known: Mapping[str, int], *, max_age: float, read_page: PageReader
    ) -> set[str]:
        """Of ``known`` (path -> the stamp the agent last wrote), the paths a listing at most
        ``max_age`` seconds old shows still at that version. Lists (``read_page(directory,
        after)``) what needs it; never raises for the backend's answers."""
        by_directory: dict[str, list[tuple[str, str, int]]] = {}
        with self._lock:
            sizes = self._sizes
        for path, stamp in known.items():
            directory, key = split_path(path)
            if directory in sizes:
                by_directory.setdefault(directory, []).append((path, key, stamp))
        confirmed: set[str] = set()
        for directory, members in by_directory.items():
            listing = self._listing(directory, max_age, read_page)
            if listing is not None:
                confirmed.update(p for p, key, stamp in members if hash((key, stamp)) in listing)
        return confirmed

    def _listing(self, directory: str, max_age: float, read_page: PageReader) -> _Listing | None:
        listing = self._fresh(directory, max_age)
        if listing is not None:
            return listing
        gate = self._open_gate(directory)
        if gate is None:
            return None
        with gate:  # one listing at a time per directory; the others use its result
            listing = self._fresh(directory, max_age)
            if listing is not None or self._open_gate(directory) is None:
                return listing  # listed meanwhile, or refused by that listing
            return self._list(directory, read_page, max_age)

    def _open_gate(self, directory: str) -> threading.Lock | None:
        """The lock of ``directory``'s listing, or None while the directory is refused."""
        with self._lock:
            if self._clock() < self._refused.get(directory, 0.0):
                return None
            return self._listing_now.setdefault(directory, threading.Lock())

    def _fresh(self, directory: str, max_age: float) -> _Listing | None:
        with self._lock:
            listing = self._listings.get(directory)
        if listing is not None and self._clock() - listing.at <= max_age:
            return listing
        return None

    def _list(self, directory: str, read_page: PageReader, max_age: float) -> _Listing | None:
        started = self._clock()
        with self._lock:
            most = WIDE * self._sizes.get(directory, 0) + PAGE
        stamps: list[int] = []
        after: str | None = None
        count = 0
        try:
            while True:
                page, listed, after = read_page(directory, after)
                self.listed += 1
                stamps += page
                count += listed
                if count > most:
                    log.info(
                        "not listing %r: it holds more than %d keys; its secrets are read"
                        " one by one",
                        directory,
                        most,
                    )
                    self._refuse(directory)
                    return None
                if self._too_slow(directory, started, max_age, count):
                    return None  # given up at the page that passed the time allowed
                if after is None:
                    break
        except ListingRefusedError as exc:
            log.info("cannot list %r (%s); its secrets are read one by one", directory, exc)
            self._refuse(directory)
            return None
        except (SourceError, ValueError) as exc:
            log.debug("listing %r failed: %s", directory, type(exc).__name__)
            return None
        listing = _Listing(started, stamps)
        with self._lock:
            if directory in self._sizes:
                self._listings[directory] = listing
        return listing

    def _too_slow(self, directory: str, started: float, max_age: float, keys: int) -> bool:
        """True (and ``directory`` refused) once its listing has taken more than ``SLOW_SHARE``
        of ``max_age``: checked after every page, so a directory too large for its interval
        (or a server slow to page through it) costs that share once, not a whole listing while
        every worker waits for it."""
        took = self._clock() - started
        if took <= SLOW_SHARE * max_age:
            return False
        log.info(
            "listing %r took %.1f s for %d keys, too long for evidence at most %.1f s old; its"
            " secrets are read one by one",
            directory,
            took,
            keys,
            max_age,
        )
        self._refuse(directory)
        return True

    def _refuse(self, directory: str) -> None:
        with self._lock:
            self._refused[directory] = self._clock() + RETRY_REFUSED
            self._listings.pop(directory, None)
