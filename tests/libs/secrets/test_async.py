"""``await manager.aget_secret(key)``: the sync semantics and errors, without blocking the loop.

A hit never leaves the event loop; a miss runs on the loop's default executor while the loop
keeps running, and shares its single flight with threads calling ``get_secret``. Then 64
coroutines and 8 threads missing one key together against the Vault dev server with latency.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest
from libs.secrets import (
    InvalidSecretKeyError,
    SecretAccessDeniedError,
    SecretBackendUnavailableError,
    SecretNotFoundError,
    VaultSecretManager,
)

from .conftest import FakeTimer
from .load_support import ScriptedManager


def test_hit_stays_on_the_loop_thread(timer: FakeTimer) -> None:
    manager = ScriptedManager({"db/password": "pw"}, ttl_seconds=60, timer=timer)
    manager.get_secret("db/password")

    async def main() -> str:
        return await manager.aget_secret("db/password")

    assert asyncio.run(main()) == "pw"
    assert manager.calls == ["db/password"]


def test_miss_runs_off_the_loop_which_keeps_running() -> None:
    manager = ScriptedManager({"db/password": "pw"}, ttl_seconds=60)
    release = manager.holds["db/password"] = threading.Event()

    async def ticker() -> None:  # can tick only while the loop is free
        for _ in range(5):
            await asyncio.sleep(0.01)
        release.set()

    async def main() -> str:
        task = asyncio.create_task(ticker())
        value = await manager.aget_secret("db/password")
        await task
        return value

    assert asyncio.run(main()) == "pw"
    assert manager.released == [True]  # the read was released by the loop it did not block
    assert manager.threads[0] != threading.main_thread().name
    manager.close()


def test_same_errors_as_the_sync_call() -> None:
    manager = ScriptedManager({}, ttl_seconds=60)

    async def read(key: str) -> str:
        return await manager.aget_secret(key)

    with pytest.raises(InvalidSecretKeyError):
        asyncio.run(read("../etc/passwd"))
    with pytest.raises(SecretNotFoundError):
        asyncio.run(read("db/missing"))
    manager.failure = SecretAccessDeniedError("denied", key="db/denied")
    with pytest.raises(SecretAccessDeniedError):
        asyncio.run(read("db/denied"))
    manager.failure = SecretBackendUnavailableError("down", key="db/down")
    with pytest.raises(SecretBackendUnavailableError):
        asyncio.run(read("db/down"))
    manager.close()


def test_coroutines_and_threads_share_one_read() -> None:
    manager = ScriptedManager({"db/password": "pw"}, ttl_seconds=60)
    release = manager.holds["db/password"] = threading.Event()
    threads_results: list[str] = []

    def in_thread() -> None:
        threads_results.append(manager.get_secret("db/password"))

    async def main() -> list[str]:
        reads = [asyncio.create_task(manager.aget_secret("db/password")) for _ in range(100)]
        await asyncio.sleep(0.05)
        threads = [threading.Thread(target=in_thread) for _ in range(8)]
        for thread in threads:
            thread.start()
        await asyncio.sleep(0.1)
        release.set()
        values = await asyncio.gather(*reads)
        for thread in threads:
            thread.join(10)
        return values

    assert asyncio.run(main()) == ["pw"] * 100
    assert threads_results == ["pw"] * 8
    assert manager.calls == ["db/password"]
    manager.close()


def test_a_thread_leads_and_coroutines_follow() -> None:
    manager = ScriptedManager({"db/password": "pw"}, ttl_seconds=60)
    release = manager.holds["db/password"] = threading.Event()
    leader = threading.Thread(target=manager.get_secret, args=("db/password",))
    leader.start()
    assert manager.entered.wait(5)

    async def main() -> list[str]:
        reads = [manager.aget_secret("db/password") for _ in range(20)]
        asyncio.get_running_loop().call_later(0.1, release.set)
        return await asyncio.gather(*reads)

    assert asyncio.run(main()) == ["pw"] * 20
    leader.join(10)
    assert manager.calls == ["db/password"]
    manager.close()


def test_a_cancelled_waiter_leaves_the_read_to_the_others() -> None:
    manager = ScriptedManager({"db/password": "pw"}, ttl_seconds=60)
    release = manager.holds["db/password"] = threading.Event()

    async def main() -> str:
        first = asyncio.create_task(manager.aget_secret("db/password"))
        second = asyncio.create_task(manager.aget_secret("db/password"))
        await asyncio.sleep(0.05)
        first.cancel()
        release.set()
        with pytest.raises(asyncio.CancelledError):
            await first
        return await second

    assert asyncio.run(main()) == "pw"
    assert manager.calls == ["db/password"]
    manager.close()


def test_the_wait_is_bounded() -> None:
    manager = ScriptedManager({"db/password": "pw"}, ttl_seconds=60)
    manager.wait_seconds = 0.2
    release = manager.holds["db/password"] = threading.Event()

    async def main() -> None:
        try:
            with pytest.raises(SecretBackendUnavailableError, match="no answer"):
                await manager.aget_secret("db/password")
        finally:  # the read gave up while the backend still held it; now let the backend go
            release.set()  # (asyncio.run waits for the executor's thread before returning)

    asyncio.run(main())
    assert manager.released == [True]
    manager.close()


def test_in_the_refresh_window_the_cached_value_comes_at_once(timer: FakeTimer) -> None:
    manager = ScriptedManager({"db/password": "v1"}, ttl_seconds=100, timer=timer)
    manager.get_secret("db/password")
    manager.values["db/password"] = "v2"
    timer.advance(90)

    async def main() -> str:
        return await manager.aget_secret("db/password")

    assert asyncio.run(main()) == "v1"
    deadline = time.monotonic() + 5
    while manager.cache.get("db/password") != "v2" and time.monotonic() < deadline:
        time.sleep(0.01)
    assert asyncio.run(main()) == "v2"
    assert len(manager.calls) == 2
    manager.close()


def test_vault_dev_server_coroutines_and_threads_make_one_read(vault: Any) -> None:
    vault.put_secret("async", {"password": "pw"})
    vault.set_latency(0.3)
    config = {"address": vault.url, "token": vault.root_token, "timeout": 10}
    with VaultSecretManager(config, ttl_seconds=60) as manager:
        vault.reset_counters()
        in_threads: list[str] = []
        threads = [
            threading.Thread(target=lambda: in_threads.append(manager.get_secret("async/password")))
            for _ in range(8)
        ]

        async def main() -> list[str]:
            reads = [manager.aget_secret("async/password") for _ in range(64)]
            gathered = asyncio.gather(*reads)
            for thread in threads:
                thread.start()
            return await gathered

        assert asyncio.run(main()) == ["pw"] * 64
        for thread in threads:
            thread.join(10)
    assert in_threads == ["pw"] * 8
    reads = [path for method, path in vault.requests if "async" in path]
    assert len(reads) == 1, reads


def test_a_miss_after_the_executor_shut_down_leaves_no_open_call() -> None:
    manager = ScriptedManager({"db/password": "pw"}, ttl_seconds=60)

    async def main() -> None:
        await asyncio.get_running_loop().shutdown_default_executor()
        with pytest.raises(RuntimeError):
            await manager.aget_secret("db/password")

    asyncio.run(main())
    assert len(manager._loader.flights) == 0
    assert manager.get_secret("db/password") == "pw"  # a later miss leads a new read
    manager.close()
