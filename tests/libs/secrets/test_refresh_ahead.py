"""Refresh ahead: a key read in the last fraction of its TTL is refreshed once in the background.

Callers keep getting the cached value meanwhile; a failed refresh leaves it in place (logged
once, naming the key, never the value); the work runs on at most ``REFRESH_WORKERS`` daemon
threads. Then against the Vault dev server with latency: no read waits for the backend.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from libs.secrets import (
    SecretBackendUnavailableError,
    SecretConfigurationError,
    VaultSecretManager,
)
from libs.secrets.config import DEFAULT_REFRESH_AHEAD
from libs.secrets.loader import REFRESH_WORKERS

from .conftest import FakeTimer
from .load_support import ScriptedManager


def eventually(condition: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def scripted(timer: FakeTimer, **kwargs: Any) -> ScriptedManager:
    return ScriptedManager({"db/password": "v1"}, ttl_seconds=100, timer=timer, **kwargs)


def test_default_range_and_environment(monkeypatch: pytest.MonkeyPatch, timer: FakeTimer) -> None:
    monkeypatch.delenv("SECRET_CACHE_REFRESH_AHEAD", raising=False)
    assert ScriptedManager().refresh_ahead == DEFAULT_REFRESH_AHEAD == 0.2
    monkeypatch.setenv("SECRET_CACHE_REFRESH_AHEAD", "0.5")
    assert ScriptedManager().refresh_ahead == 0.5
    assert ScriptedManager(refresh_ahead=0).refresh_ahead == 0  # the argument wins
    for bad in ("1", "-0.1", "often", "nan"):
        monkeypatch.setenv("SECRET_CACHE_REFRESH_AHEAD", bad)
        with pytest.raises(SecretConfigurationError, match="SECRET_CACHE_REFRESH_AHEAD"):
            ScriptedManager()
    with pytest.raises(SecretConfigurationError, match="refresh_ahead"):
        ScriptedManager(refresh_ahead=1.5)


def test_a_read_in_the_window_refreshes_once_in_the_background(timer: FakeTimer) -> None:
    manager = scripted(timer, refresh_ahead=0.2)
    assert manager.get_secret("db/password") == "v1"
    manager.values["db/password"] = "v2"
    timer.advance(79)  # before the window: a plain hit
    assert manager.get_secret("db/password") == "v1"
    assert manager.calls == ["db/password"]
    release = manager.holds["db/password"] = threading.Event()
    timer.advance(2)  # in the last 20 % of the TTL
    for _ in range(100):
        assert manager.get_secret("db/password") == "v1"  # never waits for the refresh
    assert eventually(lambda: len(manager.calls) == 2)
    release.set()
    assert eventually(lambda: manager.cache.get("db/password") == "v2")
    assert manager.get_secret("db/password") == "v2"
    assert manager.calls == ["db/password"] * 2
    assert manager.calls and manager.threads[1].startswith("libs.secrets scripted refresh")
    timer.advance(79)  # the refreshed value has a full TTL of its own
    assert manager.get_secret("db/password") == "v2"
    assert len(manager.calls) == 2
    manager.close()


def test_zero_disables_it(timer: FakeTimer) -> None:
    manager = scripted(timer, refresh_ahead=0)
    manager.get_secret("db/password")
    timer.advance(99)
    assert manager.get_secret("db/password") == "v1"
    time.sleep(0.05)
    assert manager.calls == ["db/password"]
    assert manager._loader.refresher.threads == 0
    manager.close()


def test_a_failed_refresh_keeps_the_value_and_logs_once(
    timer: FakeTimer, caplog: pytest.LogCaptureFixture, canary: str
) -> None:
    manager = ScriptedManager({"db/password": canary}, ttl_seconds=100, timer=timer)
    manager.get_secret("db/password")
    manager.failure = SecretBackendUnavailableError("backend down", key="db/password")
    timer.advance(90)
    with caplog.at_level(logging.DEBUG, logger="libs.secrets"):
        for _ in range(50):
            assert manager.get_secret("db/password") == canary
        assert eventually(lambda: len(manager.calls) == 2)
        assert eventually(lambda: len(manager._loader.flights) == 0)
        for _ in range(50):
            assert manager.get_secret("db/password") == canary
    failures = [r for r in caplog.records if "ahead of its expiry" in r.getMessage()]
    assert len(failures) == 1
    assert "db/password" in failures[0].getMessage()
    assert canary not in caplog.text
    assert len(manager.calls) == 2
    timer.advance(11)  # expired: a miss, whose read fails too, so stale-if-error
    assert manager.get_secret("db/password") == canary
    assert len(manager.calls) == 3
    manager.close()


def test_background_threads_are_few_and_daemons(timer: FakeTimer) -> None:
    keys = [f"app/key{i}" for i in range(40)]
    manager = ScriptedManager(dict.fromkeys(keys, "v"), ttl_seconds=100, timer=timer)
    manager.delay = 0.01
    for key in keys:
        manager.get_secret(key)
    timer.advance(90)
    for key in keys:
        assert manager.get_secret(key) == "v"
    assert eventually(lambda: len(manager.calls) == 2 * len(keys), timeout=10)
    workers = list(manager._loader.refresher._threads)
    assert 1 <= len(workers) <= REFRESH_WORKERS
    assert set(manager.threads[len(keys) :]) <= {t.name for t in workers}
    assert all(t.daemon for t in workers)
    manager.close()
    assert eventually(lambda: not any(t.is_alive() for t in workers))


def test_a_miss_after_expiry_joins_a_refresh_still_running(timer: FakeTimer) -> None:
    manager = scripted(timer)
    manager.get_secret("db/password")
    manager.values["db/password"] = "v2"
    release = manager.holds["db/password"] = threading.Event()
    timer.advance(90)
    assert manager.get_secret("db/password") == "v1"
    assert eventually(lambda: len(manager.calls) == 2)
    timer.advance(20)  # expired while the refresh is still running
    threading.Timer(0.2, release.set).start()
    assert manager.get_secret("db/password") == "v2"
    assert len(manager.calls) == 2
    manager.close()


def test_vault_dev_server_no_read_waits_for_the_backend(vault: Any) -> None:
    vault.put_secret("steady", {"token": "t1"})
    vault.set_latency(0.2)
    config = {"address": vault.url, "token": vault.root_token, "timeout": 10}
    with VaultSecretManager(config, ttl_seconds=1.5, refresh_ahead=0.6) as manager:
        fetch = manager._loader._fetch
        readers: list[str] = []

        def recording_fetch(key: str, secret_path: str, field: str) -> str:
            readers.append(threading.current_thread().name)
            return fetch(key, secret_path, field)

        manager._loader._fetch = recording_fetch
        assert manager.get_secret("steady/token") == "t1"  # the first read pays the trip
        deadline = time.monotonic() + 4.0  # refreshed every ~0.8 s, 0.9 s before expiry
        while time.monotonic() < deadline and len(readers) < 4:  # three in the background
            assert manager.get_secret("steady/token") == "t1"
            time.sleep(0.01)
    reads = [path for method, path in vault.requests if "steady" in path]
    assert readers[0] == threading.current_thread().name
    assert len(readers) >= 3, readers  # about one refresh per TTL...
    assert all(name.startswith("libs.secrets vault refresh") for name in readers[1:]), readers
    assert len(reads) == len(readers)  # ...all of them in the background
