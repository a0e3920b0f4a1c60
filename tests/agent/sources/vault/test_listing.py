"""KV v2 directory listings (``sources.vault.listing``) as evidence that a secret is unchanged.

Against a real OpenBao server through ``VaultSource``: what one ``detailed-metadata`` listing
confirms and what it must not (a new version, a deleted, destroyed or re-created secret), when
no listing is made, paging, a token without ``list``, a directory too wide, and a server without
the endpoint (the project's dev server, standing in for HashiCorp Vault). Then the pure parts
(``page_stamps``, ``version_stamp``, ``split_path``, ``KvListings``) with a scripted page reader
and a fake clock.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from secrets_agent.config.load import AuthConfig, VaultBackendConfig
from secrets_agent.sources.result import BackendUnavailableError, SecretData, SecretMissingError
from secrets_agent.sources.vault import listing
from secrets_agent.sources.vault import source as vault_source
from secrets_agent.sources.vault.listing import (
    LIST_MIN,
    PAGE,
    RETRY_REFUSED,
    WIDE,
    KvListings,
    ListingRefusedError,
    Page,
    page_stamps,
    split_path,
    version_stamp,
)
from secrets_agent.sources.vault.source import VaultSource

# -- helpers ------------------------------------------------------------------------------------


class Clock:
    """A monotonic clock that moves only when told."""

    def __init__(self) -> None:
        self.now = 5_000.0

    def __call__(self) -> float:
        return self.now


def _source(url: str, token: str, clock: Clock) -> VaultSource:
    config = VaultBackendConfig(
        address=url, auth=AuthConfig(method="token", token=token), timeout=5.0
    )
    source = VaultSource(config, concurrency=4)
    source.listings = KvListings(clock=clock)
    return source


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def root_source(openbao: Any, clock: Clock) -> Iterator[VaultSource]:
    source = _source(openbao.url, openbao.root_token, clock)
    yield source
    source.close()


def _directory() -> str:
    return f"list-{uuid.uuid4().hex[:8]}/"


def _put_many(openbao: Any, directory: str, n: int) -> list[str]:
    paths = [f"{directory}s{i:04d}" for i in range(n)]
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda p: openbao.put_secret(p, {"k": p}), paths))
    return paths


def _unstamped(source: VaultSource, paths: list[str]) -> bool:
    """Every path reads, and none keeps a stamp: its directory is not listed (or refused)."""
    results = source.fetch_many(paths)
    return all(isinstance(d, SecretData) and d.stamp is None for d in results.values())


def _stamps(source: VaultSource, paths: list[str]) -> dict[str, int]:
    results = source.fetch_many(paths)
    stamps: dict[str, int] = {}
    for path in paths:
        data = results[path]
        assert isinstance(data, SecretData), data
        assert data.stamp is not None
        stamps[path] = data.stamp
    return stamps


def _count_pages(source: VaultSource) -> list[tuple[str, str | None]]:
    """Record every page request (answered or refused) the source makes."""
    asked: list[tuple[str, str | None]] = []
    real = source._list_page

    def counted(directory: str, after: str | None) -> Page:
        asked.append((directory, after))
        return real(directory, after)

    source._list_page = counted  # type: ignore[method-assign]
    return asked


# -- against a real OpenBao ---------------------------------------------------------------------


def test_a_listing_confirms_unchanged_secrets_and_not_a_new_version(
    openbao: Any, root_source: VaultSource, clock: Clock
) -> None:
    directory = _directory()
    paths = _put_many(openbao, directory, 10)
    root_source.expect(paths)
    known = _stamps(root_source, paths)
    assert root_source.unchanged(known, max_age=30.0) == set(paths)
    assert root_source.listings.listed == 1

    rotated = paths[3]
    openbao.put_secret(rotated, {"k": "rotated"})
    clock.now += 10.0
    # Evidence up to max_age old is used as it is: no new listing, the change not yet seen.
    assert root_source.unchanged(known, max_age=30.0) == set(paths)
    assert root_source.listings.listed == 1
    # Older than max_age: listed again, and the new version is not the one written.
    assert root_source.unchanged(known, max_age=5.0) == set(paths) - {rotated}
    assert root_source.listings.listed == 2
    # Once read again, its new stamp is confirmed by the same listing.
    known[rotated] = _stamps(root_source, [rotated])[rotated]
    assert root_source.unchanged(known, max_age=5.0) == set(paths)
    assert root_source.listings.listed == 2


def test_an_older_version_destroyed_leaves_the_current_one_confirmed(
    openbao: Any, root_source: VaultSource
) -> None:
    directory = _directory()
    paths = _put_many(openbao, directory, LIST_MIN)
    openbao.put_secret(paths[0], {"k": "second"})
    root_source.expect(paths)
    known = _stamps(root_source, paths)
    openbao.client().secrets.kv.v2.destroy_secret_versions(path=paths[0], versions=[1])
    assert root_source.unchanged(known, max_age=0.0) == set(paths)


def test_deleted_destroyed_and_recreated_secrets_are_not_confirmed(
    openbao: Any, root_source: VaultSource, clock: Clock
) -> None:
    directory = _directory()
    paths = _put_many(openbao, directory, 10)
    root_source.expect(paths)
    known = _stamps(root_source, paths)
    assert root_source.unchanged(known, max_age=0.0) == set(paths)
    deleted, destroyed, recreated = paths[:3]
    kv = openbao.client().secrets.kv.v2
    kv.delete_latest_version_of_secret(path=deleted)  # DELETE secret/data/<path>
    kv.destroy_secret_versions(path=destroyed, versions=[1])  # PUT secret/destroy/<path>
    kv.delete_metadata_and_all_versions(path=recreated)
    openbao.put_secret(recreated, {"k": recreated})  # version 1 again, another created_time
    clock.now += 1.0
    assert root_source.unchanged(known, max_age=0.0) == set(paths[3:])

    again = root_source.fetch_many([deleted, destroyed, recreated])
    assert isinstance(again[deleted], SecretMissingError)
    assert isinstance(again[destroyed], SecretMissingError)
    fresh = again[recreated]
    assert isinstance(fresh, SecretData) and fresh.version == "1"
    assert fresh.stamp is not None and fresh.stamp != known[recreated]


def test_a_directory_with_fewer_than_list_min_secrets_is_never_listed(
    openbao: Any, root_source: VaultSource
) -> None:
    directory = _directory()
    paths = _put_many(openbao, directory, LIST_MIN + 2)
    few = paths[: LIST_MIN - 1]
    root_source.expect(few)  # only these are configured, though the directory holds more
    assert _unstamped(root_source, few)  # nothing to confirm them with: no stamp kept
    known = dict.fromkeys(few, 1)
    assert root_source.unchanged(known, max_age=60.0) == set()
    assert root_source.listings.listed == 0


@pytest.mark.parametrize(("keys", "pages"), [(PAGE, 2), (PAGE + 30, 2), (2 * PAGE, 3)])
def test_a_directory_of_several_pages_is_listed_page_by_page(
    openbao: Any, root_source: VaultSource, keys: int, pages: int
) -> None:
    directory = _directory()
    paths = _put_many(openbao, directory, keys)
    asked = _count_pages(root_source)
    root_source.expect(paths)
    known = _stamps(root_source, paths)
    assert root_source.unchanged(known, max_age=60.0) == set(paths)
    assert root_source.listings.listed == pages
    afters = [after for _, after in asked]
    assert afters == [None, *(split_path(paths[PAGE * i - 1])[1] for i in range(1, pages))]


def test_keys_with_odd_characters_page_and_confirm(
    openbao: Any, root_source: VaultSource, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Directory and key names are quoted in the path and in ``after``, across page ends."""
    monkeypatch.setattr(listing, "PAGE", 3)
    monkeypatch.setattr(vault_source, "PAGE", 3)
    directory = f"odd dir {uuid.uuid4().hex[:6]} \u00fc/"
    paths = [f"{directory}k {i} \u00e9?#%&+=" for i in range(10)]
    for path in paths:
        openbao.put_secret(path, {"k": "v"})
    root_source.expect(paths)
    known = _stamps(root_source, paths)
    assert root_source.unchanged(known, max_age=60.0) == set(paths)
    assert root_source.listings.listed == 4


def test_top_level_secrets_are_listed_at_the_mount(openbao: Any, root_source: VaultSource) -> None:
    tag = uuid.uuid4().hex[:8]
    paths = [f"top-{tag}-{i}" for i in range(LIST_MIN)]
    for path in paths:
        openbao.put_secret(path, {"k": "v"})
    asked = _count_pages(root_source)
    root_source.expect(paths)
    known = _stamps(root_source, paths)
    assert root_source.unchanged(known, max_age=60.0) == set(paths)
    assert asked[0] == ("", None)


def test_a_token_that_may_not_list_confirms_nothing_and_still_reads(
    openbao: Any, clock: Clock
) -> None:
    directory = _directory()
    paths = _put_many(openbao, directory, 10)
    name = openbao.policy(f"no-list-{directory[:-1]}", f"secret/data/{directory}*")
    source = _source(openbao.url, openbao.create_token(name, no_default_policy=True), clock)
    try:
        asked = _count_pages(source)
        source.expect(paths)
        known = _stamps(source, paths)
        assert source.unchanged(known, max_age=0.0) == set()
        assert len(asked) == 1  # refused: 403
        clock.now += RETRY_REFUSED - 1.0
        assert source.unchanged(known, max_age=0.0) == set()
        assert len(asked) == 1  # not asked again within RETRY_REFUSED
        assert _unstamped(source, paths)  # reads still work, and keep no stamp while refused
        clock.now += 2.0
        assert source.unchanged(known, max_age=0.0) == set()
        assert len(asked) == 2  # tried again after RETRY_REFUSED
        assert source.listings.listed == 0
    finally:
        source.close()


def test_a_token_with_list_on_detailed_metadata_confirms(openbao: Any, clock: Clock) -> None:
    """The least a token needs: ``read`` on the secrets, ``list`` on their directory."""
    directory = _directory()
    paths = _put_many(openbao, directory, LIST_MIN)
    name = f"list-{directory[:-1]}"
    openbao.client().sys.create_or_update_policy(
        name=name,
        policy=(
            f'path "secret/data/{directory}*" {{ capabilities = ["read"] }}\n'
            f'path "secret/detailed-metadata/{directory}" {{ capabilities = ["list"] }}\n'
        ),
    )
    source = _source(openbao.url, openbao.create_token(name, no_default_policy=True), clock)
    try:
        source.expect(paths)
        known = _stamps(source, paths)
        assert source.unchanged(known, max_age=0.0) == set(paths)
    finally:
        source.close()


def test_a_directory_far_wider_than_its_configured_secrets_is_not_used(
    openbao: Any, root_source: VaultSource, clock: Clock
) -> None:
    directory = _directory()
    most = WIDE * LIST_MIN + PAGE
    paths = _put_many(openbao, directory, most)
    configured = paths[:LIST_MIN]
    asked = _count_pages(root_source)
    root_source.expect(configured)
    known = _stamps(root_source, configured)
    assert root_source.unchanged(known, max_age=0.0) == set(configured)  # at the limit: used
    openbao.put_secret(f"{directory}s{most:04d}", {"k": "one more"})
    clock.now += 1.0
    assert root_source.unchanged(known, max_age=0.0) == set()  # one key past it: not used
    pages = len(asked)
    clock.now += 1.0
    assert root_source.unchanged(known, max_age=0.0) == set()
    assert len(asked) == pages  # and not listed again for RETRY_REFUSED
    assert _unstamped(root_source, configured)


def test_a_server_without_detailed_metadata_confirms_nothing_and_reads(
    vault: Any, clock: Clock
) -> None:
    """The dev server, like HashiCorp Vault, has no ``detailed-metadata`` endpoint."""
    paths = [f"plain/s{i}" for i in range(LIST_MIN + 2)]
    for path in paths:
        vault.put_secret(path, {"k": path})
    source = _source(vault.url, vault.root_token, clock)
    try:
        asked = _count_pages(source)
        source.expect(paths)
        known = _stamps(source, paths)
        with pytest.raises(ListingRefusedError, match="404"):
            source._list_page("plain/", None)
        asked.clear()
        assert source.unchanged(known, max_age=0.0) == set()
        assert len(asked) == 1 and source.listings.listed == 0
        assert source.unchanged(known, max_age=0.0) == set()
        assert len(asked) == 1
        assert _unstamped(source, paths)
    finally:
        source.close()


def test_kv_v1_is_never_listed(openbao: Any, clock: Clock) -> None:
    config = VaultBackendConfig(
        address=openbao.url,
        auth=AuthConfig(method="token", token=openbao.root_token),
        kv_version=1,
        timeout=5.0,
    )
    source = VaultSource(config, concurrency=2)
    try:
        paths = [f"v1/s{i}" for i in range(LIST_MIN)]
        source.expect(paths)
        assert source.unchanged(dict.fromkeys(paths, 1), max_age=60.0) == set()
        assert source.listings.listed == 0
    finally:
        source.close()


def test_reads_through_hvac_are_never_listed(
    openbao: Any, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a proxy in the environment, reads go through hvac: no listing is made."""
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    source = _source(openbao.url, openbao.root_token, clock)
    try:
        assert source.pool() is None
        paths = [f"proxied/s{i}" for i in range(LIST_MIN)]
        source.expect(paths)
        assert source.unchanged(dict.fromkeys(paths, 1), max_age=60.0) == set()
        assert source.listings.listed == 0
    finally:
        source.close()


# -- version_stamp, split_path, page_stamps -----------------------------------------------------

CREATED = "2026-01-02T03:04:05.123456789Z"


def test_version_stamp_tells_versions_and_creations_apart() -> None:
    stamp = version_stamp(3, CREATED)
    assert stamp is not None
    assert version_stamp(1, CREATED) == _STAMP
    assert version_stamp(3, CREATED) == stamp == version_stamp("3", CREATED)
    assert version_stamp(4, CREATED) != stamp
    assert version_stamp(3, "2026-01-02T03:04:05.123456790Z") != stamp


@pytest.mark.parametrize(
    ("version", "created"),
    [(3, None), (3, ""), (3, 17), (None, CREATED), (True, CREATED), (3.0, CREATED), ([3], CREATED)],
)
def test_version_stamp_is_none_for_what_vault_does_not_send(version: Any, created: Any) -> None:
    assert version_stamp(version, created) is None


@pytest.mark.parametrize(
    ("path", "expected"),
    [("a/b/c", ("a/b/", "c")), ("c", ("", "c")), ("a/c", ("a/", "c"))],
)
def test_split_path(path: str, expected: tuple[str, str]) -> None:
    assert split_path(path) == expected


def _meta(current: Any = 2, **version: Any) -> dict[str, Any]:
    entry = {"created_time": CREATED, "deletion_time": "", "destroyed": False, **version}
    return {"current_version": current, "versions": {"1": dict(entry), "2": entry}}


def _body(info: dict[str, Any], keys: list[str] | None = None) -> dict[str, Any]:
    return {"data": {"keys": keys if keys is not None else list(info), "key_info": info}}


def test_page_stamps_keeps_only_live_current_versions() -> None:
    info = {
        "live": _meta(),
        "deleted": _meta(deletion_time="2026-01-03T00:00:00Z"),
        "destroyed": _meta(destroyed=True),
        "no-destroyed-flag": _meta(destroyed=None),
        "bool-version": _meta(current=True),
        "gone-version": _meta(current=7),
        "no-created": _meta(created_time=""),
        "sub/": {},
    }
    stamps, listed, last = page_stamps(_body(info), limit=PAGE)
    assert set(stamps) == {hash(("live", version_stamp(2, CREATED)))}
    assert listed == len(info) and last is None


def test_page_stamps_continues_after_a_full_page_only() -> None:
    info = {f"k{i}": _meta() for i in range(3)}
    assert page_stamps(_body(info), limit=3)[2] == "k2"
    assert page_stamps(_body(info), limit=4)[2] is None
    stamps, listed, last = page_stamps(_body({}, keys=[]), limit=3)
    assert (set(stamps), listed, last) == (set(), 0, None)


@pytest.mark.parametrize(
    "body",
    [None, [], {}, {"data": None}, {"data": {"keys": "a", "key_info": {}}}, {"data": {"keys": []}}],
)
def test_page_stamps_rejects_other_shapes(body: Any) -> None:
    with pytest.raises(ValueError):
        page_stamps(body, limit=PAGE)


# -- KvListings with a scripted page reader ------------------------------------------------------


_STAMP = hash(("1", CREATED))  # version_stamp(1, CREATED) (see the version_stamp test)


class Pages:
    """A directory of ``keys`` keys at version 1, served ``limit`` at a time; or ``error``.
    With ``clock``, each page takes ``takes`` seconds on it."""

    def __init__(
        self, keys: int, *, limit: int = PAGE, clock: Clock | None = None, takes: float = 0.0
    ) -> None:
        self.keys = [f"k{i:04d}" for i in range(keys)]
        self.limit = limit
        self.clock = clock
        self.takes = takes
        self.error: Exception | None = None
        self.calls: list[tuple[str, str | None]] = []
        self.gate: threading.Event | None = None

    def __call__(self, directory: str, after: str | None) -> Page:
        self.calls.append((directory, after))
        if self.clock is not None:
            self.clock.now += self.takes
        if self.gate is not None:
            self.gate.wait(5.0)
        if self.error is not None:
            raise self.error
        start = 0 if after is None else self.keys.index(after) + 1
        chunk = self.keys[start : start + self.limit]
        last = chunk[-1] if len(chunk) == self.limit else None
        return {hash((k, _STAMP)) for k in chunk}, len(chunk), last


def _known(n: int, directory: str = "d/") -> dict[str, int]:
    return {f"{directory}k{i:04d}": _STAMP for i in range(n)}


def _expecting(clock: Clock, n: int) -> tuple[KvListings, dict[str, int]]:
    """Listings on ``clock`` that expect ``n`` secrets of ``d/``, and those secrets' stamps."""
    listings = KvListings(clock=clock)
    known = _known(n)
    listings.expect(known)
    return listings, known


def test_exactly_list_min_secrets_are_listed_and_one_fewer_are_not(clock: Clock) -> None:
    pages = Pages(20)
    listings = KvListings(clock=clock)
    listings.expect(_known(LIST_MIN - 1))
    assert listings.confirmed(_known(LIST_MIN - 1), max_age=1.0, read_page=pages) == set()
    assert pages.calls == []
    listings.expect(_known(LIST_MIN))
    assert listings.confirmed(_known(LIST_MIN), max_age=1.0, read_page=pages) == set(
        _known(LIST_MIN)
    )
    assert pages.calls == [("d/", None)]


def test_a_listing_serves_until_max_age_measured_from_its_start(clock: Clock) -> None:
    pages = Pages(10, clock=clock, takes=2.0)  # a page takes 2 s
    listings, known = _expecting(clock, 10)

    assert listings.confirmed(known, max_age=5.0, read_page=pages) == set(known)
    clock.now += 3.0  # 5 s after the listing started
    assert listings.confirmed(known, max_age=5.0, read_page=pages) == set(known)
    assert len(pages.calls) == 1
    clock.now += 0.5
    assert listings.confirmed(known, max_age=5.0, read_page=pages) == set(known)
    assert len(pages.calls) == 2


def test_a_listing_slower_than_half_its_max_age_refuses_the_directory(clock: Clock) -> None:
    """A large directory on a short interval: by the time its listing is in, the evidence
    is already too old for most of its use, so the directory is read one by one."""
    pages = Pages(10, clock=clock, takes=0.6)
    listings, known = _expecting(clock, 10)

    assert listings.confirmed(known, max_age=1.0, read_page=pages) == set()
    clock.now += RETRY_REFUSED - 1.0
    assert listings.confirmed(known, max_age=1.0, read_page=pages) == set()
    assert len(pages.calls) == 1  # not listed again while refused
    clock.now += 1.0
    assert listings.confirmed(known, max_age=2.0, read_page=pages) == set(known)


def test_a_listing_is_given_up_at_the_page_that_passes_half_its_max_age(clock: Clock) -> None:
    """50,000 keys on a 10 s interval against a server that pages slowly: the listing stops
    once it has taken half the evidence's allowed age, instead of paging through the whole
    directory while every worker waits for it."""
    pages = Pages(5_000, clock=clock, takes=0.2)
    listings, known = _expecting(clock, 5_000)

    assert listings.confirmed(known, max_age=1.0, read_page=pages) == set()
    assert len(pages.calls) == 3  # 0.6 s > 0.5 s: given up after the third of 50 pages
    assert not listings.may_confirm("d/k0000")  # refused: its secrets are read
    assert listings.confirmed(known, max_age=1.0, read_page=pages) == set()
    assert len(pages.calls) == 3


def test_a_wrong_stamp_or_an_unlisted_key_is_not_confirmed(clock: Clock) -> None:
    listings = KvListings(clock=clock)
    known = _known(10)
    listings.expect([*known, "d/not-there"])
    known["d/k0001"] += 1
    known["d/not-there"] = known["d/k0000"]
    confirmed = listings.confirmed(known, max_age=1.0, read_page=Pages(10))
    assert confirmed == set(known) - {"d/k0001", "d/not-there"}


def test_a_failed_listing_is_tried_again_at_once_and_a_refused_one_later(clock: Clock) -> None:
    pages = Pages(10)
    listings, known = _expecting(clock, 10)
    for error in (BackendUnavailableError("sealed"), ValueError("bad page")):
        pages.error = error
        assert listings.confirmed(known, max_age=1.0, read_page=pages) == set()
    assert len(pages.calls) == 2  # no answer is no refusal: asked each time
    pages.error = ListingRefusedError("HTTP 403")
    assert listings.confirmed(known, max_age=1.0, read_page=pages) == set()
    pages.error = None
    clock.now += RETRY_REFUSED - 0.5
    assert listings.confirmed(known, max_age=1.0, read_page=pages) == set()
    assert len(pages.calls) == 3
    clock.now += 1.0
    assert listings.confirmed(known, max_age=1.0, read_page=pages) == set(known)
    assert len(pages.calls) == 4


def test_a_failure_drops_nothing_and_keeps_no_partial_listing(clock: Clock) -> None:
    pages = Pages(150)
    listings, known = _expecting(clock, 150)

    def second_page_fails(directory: str, after: str | None) -> Page:
        if after is not None:
            raise BackendUnavailableError("sealed")
        return pages(directory, after)

    assert listings.confirmed(known, max_age=1.0, read_page=second_page_fails) == set()
    assert listings.confirmed(known, max_age=1.0, read_page=pages) == set(known)


@pytest.mark.parametrize(("extra", "used"), [(0, True), (1, False)])
def test_the_wide_limit(clock: Clock, extra: int, used: bool) -> None:
    configured = 10
    pages = Pages(WIDE * configured + PAGE + extra)
    listings, known = _expecting(clock, configured)
    assert listings.confirmed(known, max_age=1.0, read_page=pages) == (
        set(known) if used else set()
    )


def test_a_directory_no_longer_expected_is_dropped(clock: Clock) -> None:
    pages = Pages(10)
    listings, known = _expecting(clock, 10)
    assert listings.confirmed(known, max_age=60.0, read_page=pages) == set(known)
    listings.expect(_known(10, "other/"))
    assert listings.confirmed(known, max_age=60.0, read_page=pages) == set()
    listings.expect(known)
    assert listings.confirmed(known, max_age=60.0, read_page=pages) == set(known)
    assert len(pages.calls) == 2  # the old listing was dropped with the directory


def test_a_path_configured_for_several_targets_counts_once(clock: Clock) -> None:
    listings = KvListings(clock=clock)
    few = list(_known(LIST_MIN - 1))
    listings.expect([*few, *few])  # each path written to two targets
    assert not listings.may_confirm(few[0])
    listings.expect([*few, "d/one-more"])
    assert listings.may_confirm(few[0])


def test_workers_asking_at_once_share_one_listing(clock: Clock) -> None:
    pages = Pages(10)
    pages.gate = threading.Event()
    listings, known = _expecting(clock, 10)
    answers: list[set[str]] = []

    def ask() -> None:
        answers.append(listings.confirmed(known, max_age=60.0, read_page=pages))

    threads = [threading.Thread(target=ask) for _ in range(4)]
    for thread in threads:
        thread.start()
    _wait_for(lambda: len(pages.calls) >= 1)
    pages.gate.set()
    for thread in threads:
        thread.join(5.0)
    assert answers == [set(known)] * 4
    assert len(pages.calls) == 1


def test_workers_waiting_on_a_listing_that_is_refused_do_not_list_again(clock: Clock) -> None:
    listings, known = _expecting(clock, 10)
    gate = threading.Event()
    calls: list[str | None] = []

    def refused(directory: str, after: str | None) -> Page:
        calls.append(after)
        gate.wait(5.0)
        raise ListingRefusedError("HTTP 403")

    answers: list[set[str]] = []
    threads = [
        threading.Thread(
            target=lambda: answers.append(
                listings.confirmed(known, max_age=60.0, read_page=refused)
            )
        )
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    _wait_for(lambda: len(calls) >= 1)
    gate.set()
    for thread in threads:
        thread.join(5.0)
    assert answers == [set()] * 4
    assert len(calls) == 1  # the others saw the refusal instead of listing again


def _wait_for(predicate: Callable[[], bool]) -> None:
    event = threading.Event()
    for _ in range(500):
        if predicate():
            return
        event.wait(0.01)
    raise AssertionError("never happened")


def test_listings_hold_numbers_only(clock: Clock) -> None:
    listings, known = _expecting(clock, 10)
    listings.confirmed(known, max_age=60.0, read_page=Pages(10))
    held = listings._listings["d/"].stamps
    assert held and all(type(s) is int for s in held)
