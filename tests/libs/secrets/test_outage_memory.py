"""The outage memory: one timeout per window for the whole manager, not one per key.

Rules on a fake clock first (windows, one probe, back-off, any answer ends it); then a hanging
Vault dev server and a refusing endpoint for AWS with agent files to fall back to; then the
backend timeouts from the environment, and no "Connection pool is full" with 32 threads.
"""

from __future__ import annotations

import logging
import socket
from pathlib import Path
from typing import Any

import pytest
from libs.secrets import (
    AWSSecretsManager,
    SecretBackendUnavailableError,
    SecretNotFoundError,
    VaultSecretManager,
)
from libs.secrets.config import AwsConfig, VaultConfig
from libs.secrets.outage_memory import FIRST_WINDOW_SECONDS, MAX_WINDOW_SECONDS, OutageMemory

from .conftest import FakeTimer, FaultFront
from .load_support import ScriptedManager, in_threads

DOWN = SecretBackendUnavailableError("connection refused")


def test_windows_one_probe_and_back_off(timer: FakeTimer) -> None:
    memory = OutageMemory("vault", timer=timer)
    assert memory.admit("a") is None and not memory.down
    memory.failed(DOWN)
    blocked = memory.admit("a")
    assert blocked is not None and blocked.key == "a" and blocked.backend == "vault"
    assert "connection refused" in str(blocked) and blocked.__cause__ is DOWN
    timer.advance(FIRST_WINDOW_SECONDS)
    assert memory.admit("a") is None  # the probe
    assert memory.admit("b") is not None  # everyone else, while it runs
    memory.failed(DOWN)
    timer.advance(FIRST_WINDOW_SECONDS)
    assert memory.admit("a") is not None  # the second window is twice as long
    timer.advance(FIRST_WINDOW_SECONDS)
    assert memory.admit("a") is None
    for _ in range(10):  # 4, 8, 16, then capped
        memory.failed(DOWN)
        timer.advance(MAX_WINDOW_SECONDS)
        assert memory.admit("a") is None
    memory.failed(DOWN)
    timer.advance(MAX_WINDOW_SECONDS - 0.5)
    assert memory.admit("a") is not None  # the window stays at the cap
    timer.advance(0.5)
    assert memory.admit("a") is None
    memory.answered()
    assert not memory.down and memory.admit("a") is None and memory.admit("b") is None


def test_failures_of_reads_already_under_way_do_not_stretch_the_window(timer: FakeTimer) -> None:
    memory = OutageMemory("aws", timer=timer)
    for _ in range(10):  # ten reads started while the backend was up fail one after another
        memory.failed(DOWN)
    timer.advance(FIRST_WINDOW_SECONDS)
    assert memory.admit("a") is None


def test_a_manager_reads_each_key_once_per_window(timer: FakeTimer, tmp_path: Path) -> None:
    keys = [f"app/key{i}" for i in range(10)]
    for key in keys:
        (tmp_path / key).parent.mkdir(exist_ok=True)
        (tmp_path / key).write_text("from-file")
    manager = ScriptedManager({}, ttl_seconds=60, timer=timer, fallback_dir=tmp_path)
    manager.failure = SecretBackendUnavailableError("timed out")
    assert [manager.get_secret(key) for key in keys] == ["from-file"] * 10
    assert len(manager.calls) == 1  # one timeout for the process, not one per key
    manager.invalidate()
    timer.advance(FIRST_WINDOW_SECONDS)
    assert manager.get_secret("app/key0") == "from-file"  # the probe
    assert len(manager.calls) == 2
    manager.failure = None
    manager.values["app/key1"] = "from-backend"
    timer.advance(2 * FIRST_WINDOW_SECONDS)
    assert manager.get_secret("app/key1") == "from-backend"
    assert not manager.outage.down


def test_an_authoritative_answer_ends_the_outage(timer: FakeTimer) -> None:
    manager = ScriptedManager({}, ttl_seconds=60, timer=timer)
    manager.failure = DOWN
    with pytest.raises(SecretBackendUnavailableError):
        manager.get_secret("a/b")
    manager.failure = None
    timer.advance(FIRST_WINDOW_SECONDS)
    with pytest.raises(SecretNotFoundError):
        manager.get_secret("a/b")
    assert not manager.outage.down


def test_hanging_vault_is_asked_once_for_ten_keys(vault: Any, tmp_path: Path) -> None:
    keys = [f"app{i}/password" for i in range(10)]
    for key in keys:
        vault.put_secret(key.split("/")[0], {"password": "from-vault"})
        (tmp_path / key).parent.mkdir(exist_ok=True)
        (tmp_path / key).write_text("from-file")
    config = {
        "address": vault.url,
        "token": vault.root_token,
        "timeout": 0.5,
        "secrets_dir": str(tmp_path),
    }
    with VaultSecretManager(config, ttl_seconds=60) as manager:
        vault.reset_counters()
        vault.hang(True)
        try:
            values = [manager.get_secret(key) for key in keys]
        finally:
            vault.hang(False)
    assert values == ["from-file"] * 10
    # One request timed out (the token's first lookup or the first key's read), none after it.
    asked = [path for _method, path in vault.requests if "/sys/" not in path]
    assert len(asked) == 1, asked


def test_refused_aws_costs_one_read_for_ten_keys(aws_env: str, tmp_path: Path) -> None:
    from .load_support import free_port

    keys = [f"app{i}/password" for i in range(10)]
    for key in keys:
        (tmp_path / key).parent.mkdir(exist_ok=True)
        (tmp_path / key).write_text("from-file")
    port = free_port()
    with socket.socket() as listener:  # accepts nothing: every connection is refused
        listener.bind(("127.0.0.1", port))
        config = {
            "endpoint_url": f"http://127.0.0.1:{port}",
            "region": "us-east-1",
            "secrets_dir": str(tmp_path),
            "max_attempts": 1,
        }
        with AWSSecretsManager(config, ttl_seconds=60) as manager:
            assert [manager.get_secret(key) for key in keys] == ["from-file"] * 10
            assert manager.outage.down


def test_backend_timeout_and_attempts_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SECRET_BACKEND_TIMEOUT", "SECRET_BACKEND_MAX_ATTEMPTS", "VAULT_CLIENT_TIMEOUT"):
        monkeypatch.delenv(name, raising=False)
    assert VaultConfig.resolve({}).timeout == 3.0
    assert (AwsConfig.resolve({}).read_timeout, AwsConfig.resolve({}).max_attempts) == (3.0, 2)
    monkeypatch.setenv("VAULT_CLIENT_TIMEOUT", "9")
    assert VaultConfig.resolve({}).timeout == 9.0
    monkeypatch.setenv("SECRET_BACKEND_TIMEOUT", "1.5")
    monkeypatch.setenv("SECRET_BACKEND_MAX_ATTEMPTS", "1")
    assert VaultConfig.resolve({}).timeout == 1.5  # the reader's own variable wins
    assert AwsConfig.resolve({}).read_timeout == 1.5
    assert AwsConfig.resolve({}).max_attempts == 1
    assert VaultConfig.resolve({"timeout": 4}).timeout == 4.0  # and the config over both


def test_32_threads_fill_no_connection_pool(
    vault: Any, aws_env: str, sm_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    keys = [f"pool{i}/password" for i in range(32)]
    for key in keys:
        vault.put_secret(key.split("/")[0], {"password": "pw"})
        sm_client.create_secret(Name=key.split("/")[0], SecretString='{"password": "pw"}')
    vault.set_latency(0.05)
    vault_config = {"address": vault.url, "token": vault.root_token, "timeout": 10}
    aws_config = {"endpoint_url": aws_env, "region": "us-east-1"}
    caplog.set_level(logging.WARNING, logger="urllib3")
    with (
        VaultSecretManager(vault_config) as vault_manager,
        AWSSecretsManager(aws_config) as aws_manager,
    ):
        for manager in (vault_manager, aws_manager):
            index = iter(range(32))

            def read(manager: Any = manager, index: Any = index) -> str:
                return str(manager.get_secret(keys[next(index)]))

            assert in_threads(32, read) == ["pw"] * 32
    assert "Connection pool is full" not in caplog.text


def test_failing_aws_is_asked_once_for_ten_keys(
    aws_front: FaultFront, sm_client: Any, tmp_path: Path, timer: FakeTimer
) -> None:
    keys = [f"app{i}/password" for i in range(10)]
    for key in keys:
        sm_client.create_secret(Name=key.split("/")[0], SecretString='{"password": "pw"}')
        (tmp_path / key).parent.mkdir(exist_ok=True)
        (tmp_path / key).write_text("from-file")
    config = {
        "endpoint_url": aws_front.url,
        "region": "us-east-1",
        "secrets_dir": str(tmp_path),
        "max_attempts": 2,
    }
    with AWSSecretsManager(config, ttl_seconds=60, timer=timer) as manager:
        aws_front.mode = "500"
        assert [manager.get_secret(key) for key in keys] == ["from-file"] * 10
        assert aws_front.hits == 2  # the first key's two attempts, then nothing
        aws_front.mode = None
        manager.invalidate()
        timer.advance(FIRST_WINDOW_SECONDS)
        assert [manager.get_secret(key) for key in keys] == ["pw"] * 10  # the probe succeeded
        assert not manager.outage.down
