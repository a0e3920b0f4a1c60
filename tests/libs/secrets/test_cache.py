"""SecretCache with a fake clock: freshness, stale values, eviction, invalidation, threads."""

from __future__ import annotations

import math
import threading

import pytest
from libs.secrets import SecretCache

from .conftest import FakeTimer


def test_seed_example() -> None:
    from libs.secrets import SecretCache

    cache = SecretCache(ttl_seconds=3600)
    assert cache.ttl_seconds == 3600
    assert cache.get("anything") is None


def test_fresh_until_ttl_then_stale(timer: FakeTimer) -> None:
    cache = SecretCache(10, timer=timer)
    cache.set("k", "v")
    assert cache.get("k") == "v"
    assert "k" in cache
    timer.advance(9.999)
    assert cache.get("k") == "v"
    timer.advance(0.001)  # exactly the TTL: expired
    assert cache.get("k") is None
    assert "k" not in cache
    assert cache.get_stale("k") == "v"
    assert len(cache) == 1


def test_missing_keys(timer: FakeTimer) -> None:
    cache = SecretCache(10, timer=timer)
    assert cache.get("nope") is None
    assert cache.get_stale("nope") is None
    assert "nope" not in cache
    assert ["unhashable"] not in cache
    assert len(cache) == 0


def test_ttl_zero_keeps_values_for_stale_if_error(timer: FakeTimer) -> None:
    cache = SecretCache(0, timer=timer)
    cache.set("k", "v")
    assert cache.get("k") is None
    assert "k" not in cache
    assert cache.get_stale("k") == "v"


@pytest.mark.parametrize("ttl", [-1, -0.001, math.nan])
def test_invalid_ttl(ttl: float) -> None:
    with pytest.raises(ValueError, match="ttl_seconds"):
        SecretCache(ttl)


def test_invalid_maxsize() -> None:
    with pytest.raises(ValueError, match="maxsize"):
        SecretCache(1, maxsize=0)


def test_invalidate_keeps_the_stale_value(timer: FakeTimer) -> None:
    cache = SecretCache(10, timer=timer)
    cache.set("a", "1")
    cache.set("b", "2")
    cache.invalidate("a")
    cache.invalidate("never-set")
    assert cache.get("a") is None
    assert cache.get_stale("a") == "1"
    assert cache.get("b") == "2"


def test_clear_forgets_everything(timer: FakeTimer) -> None:
    cache = SecretCache(10, timer=timer)
    cache.set("a", "1")
    cache.clear()
    assert cache.get_stale("a") is None
    assert len(cache) == 0


def test_per_entry_ttl(timer: FakeTimer) -> None:
    cache = SecretCache(100, timer=timer)
    cache.set("short", "v", ttl=5)
    timer.advance(6)
    assert cache.get("short") is None
    assert cache.get_stale("short") == "v"


def test_maxsize_evicts_the_oldest(timer: FakeTimer) -> None:
    cache = SecretCache(10, maxsize=2, timer=timer)
    cache.set("a", "1")
    cache.set("b", "2")
    cache.set("a", "1b")  # an update does not evict
    assert len(cache) == 2
    cache.set("c", "3")
    assert len(cache) == 2
    assert cache.get_stale("a") is None
    assert cache.get("b") == "2"
    assert cache.get("c") == "3"


def test_timer_read_once_per_operation(timer: FakeTimer) -> None:
    cache = SecretCache(10, timer=timer)
    cache.set("k", "v")
    assert timer.calls == 1
    cache.get("k")
    assert timer.calls == 2
    cache.get_stale("k")
    cache.invalidate("k")
    cache.clear()
    assert timer.calls == 2


def test_set_if_generation_detects_a_concurrent_invalidation(timer: FakeTimer) -> None:
    cache = SecretCache(10, timer=timer)
    generation = cache.generation
    cache.invalidate("k")  # e.g. the file changed while it was being read
    assert cache.set_if_generation("k", "old", generation) is False
    assert cache.get("k") is None
    assert cache.get_stale("k") == "old"
    assert cache.set_if_generation("k", "new", cache.generation) is True
    assert cache.get("k") == "new"


def test_invalidate_where(timer: FakeTimer) -> None:
    cache = SecretCache(10, timer=timer)
    for key in ("a/x", "a/y", "b/x"):
        cache.set(key, key)
    count = cache.invalidate_where(lambda key: str(key).startswith("a/"))
    assert count == 2
    assert cache.get("a/x") is None
    assert cache.get("b/x") == "b/x"


def test_repr_names_no_values(timer: FakeTimer, canary: str) -> None:
    cache = SecretCache(10, timer=timer)
    cache.set("k", canary)
    assert canary not in repr(cache)


def test_threads_reading_and_writing() -> None:
    cache = SecretCache(60, maxsize=50)
    errors: list[BaseException] = []
    start = threading.Barrier(6)

    def writer(offset: int) -> None:
        try:
            start.wait()
            for i in range(3000):
                cache.set(f"k{(i + offset) % 80}", f"v{i}")
                if i % 97 == 0:
                    cache.invalidate(f"k{i % 80}")
        except BaseException as exc:
            errors.append(exc)

    def reader() -> None:
        try:
            start.wait()
            for i in range(6000):
                value = cache.get(f"k{i % 80}")
                assert value is None or value.startswith("v")
                assert len(cache) <= 50
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n * 7,)) for n in range(3)]
    threads += [threading.Thread(target=reader) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(cache) <= 50


def test_refresh_ahead_window_and_one_claim(timer: FakeTimer) -> None:
    cache = SecretCache(100, timer=timer, refresh_ahead=0.25)
    cache.set("k", "v")
    value, refresh_at, expires_at = cache._entries["k"]
    assert (value, refresh_at, expires_at) == ("v", timer.now + 75, timer.now + 100)
    timer.advance(80)
    assert cache.get("k") == "v" and "k" in cache  # still fresh inside the window
    entry = cache._entries["k"]
    assert cache.claim_refresh("k", entry) is True
    assert cache.claim_refresh("k", entry) is False  # one claim per stored value
    assert cache._entries["k"][1] == cache._entries["k"][2]  # plain hits until expiry
    cache.set("k", "v2", ttl=10)  # a value with its own TTL has no window
    assert cache._entries["k"][1] == cache._entries["k"][2]
    timer.advance(11)
    assert cache.get("k") is None and cache.get_stale("k") == "v2"


@pytest.mark.parametrize("fraction", [-0.1, 1.0, math.nan])
def test_invalid_refresh_ahead(fraction: float) -> None:
    with pytest.raises(ValueError, match="refresh_ahead"):
        SecretCache(10, refresh_ahead=fraction)


def test_claim_fails_after_a_replacement_or_an_invalidation(timer: FakeTimer) -> None:
    cache = SecretCache(100, timer=timer, refresh_ahead=0.5)
    cache.set("k", "v")
    entry = cache._entries["k"]
    cache.invalidate("k")
    assert cache.claim_refresh("k", entry) is False
    cache.set("k", "v2")
    assert cache.claim_refresh("k", entry) is False
    assert cache.claim_refresh("gone", entry) is False
