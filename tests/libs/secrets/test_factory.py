"""create_secret_manager: env-driven selection, one instance per process, races, reset."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from libs.secrets import (
    EnvSecretManager,
    FileSecretManager,
    SecretConfigurationError,
    VaultSecretManager,
    create_secret_manager,
)
from libs.secrets import factory as factory_module


def test_default_backend_is_env() -> None:
    assert isinstance(create_secret_manager(), EnvSecretManager)


def test_backend_read_when_called(monkeypatch: pytest.MonkeyPatch, tmpfs_dir: Path) -> None:
    monkeypatch.setenv("SECRET_BACKEND", "file")
    monkeypatch.setenv("SECRETS_DIR", str(tmpfs_dir))
    (tmpfs_dir / "db_password").write_text("pw")
    manager = create_secret_manager()
    assert isinstance(manager, FileSecretManager)
    assert manager.directory == tmpfs_dir
    assert manager.get_secret("db_password") == "pw"


def test_backend_name_is_case_insensitive(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECRET_BACKEND", " FILE ")
    assert create_secret_manager().backend == "file"


def test_vault_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECRET_BACKEND", "vault")
    monkeypatch.setenv("VAULT_ADDR", "http://127.0.0.1:1")
    monkeypatch.setenv("VAULT_TOKEN", "t")
    manager = create_secret_manager()
    assert isinstance(manager, VaultSecretManager)
    assert manager.config.address == "http://127.0.0.1:1"


def test_same_instance_until_cache_clear(monkeypatch: pytest.MonkeyPatch) -> None:
    first = create_secret_manager()
    assert create_secret_manager() is first
    monkeypatch.setenv("SECRET_BACKEND", "file")
    assert create_secret_manager() is first  # the process-wide instance stays
    create_secret_manager.cache_clear()
    second = create_secret_manager()
    assert second is not first
    assert isinstance(second, FileSecretManager)


def test_cache_clear_can_close(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALPACA_API_KEY_ID", "v")
    manager = create_secret_manager()
    manager.get_secret("alpaca/api_key_id")
    create_secret_manager.cache_clear(close=True)
    assert len(manager.cache) == 0


@pytest.mark.parametrize("name", ["consul", "ENV2", "none"])
def test_invalid_backend_names_the_valid_ones(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    monkeypatch.setenv("SECRET_BACKEND", name)
    with pytest.raises(SecretConfigurationError) as info:
        create_secret_manager()
    message = str(info.value)
    assert "SECRET_BACKEND" in message
    assert name in message
    assert "aws, env, file, vault" in message


def test_keyword_overrides(tmpfs_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECRET_BACKEND", "vault")  # overridden below
    manager = create_secret_manager(backend="file", config=tmpfs_dir, ttl_seconds=5)
    assert isinstance(manager, FileSecretManager)
    assert manager.ttl_seconds == 5
    assert create_secret_manager(backend="file", config=tmpfs_dir, ttl_seconds=5) is manager
    assert create_secret_manager(backend="file", config=tmpfs_dir, ttl_seconds=6) is not manager
    with pytest.raises(SecretConfigurationError, match="backend='nope'"):
        create_secret_manager(backend="nope")


def test_production_guard_through_factory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APP_ENV", "Production")
    with pytest.raises(SecretConfigurationError, match="development only"):
        create_secret_manager()


def test_racing_threads_get_one_object(monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[object] = []

    class SlowEnvManager(EnvSecretManager):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            time.sleep(0.05)  # widen the window in which a second construction could start
            super().__init__(*args, **kwargs)
            built.append(self)

    monkeypatch.setitem(factory_module.BACKENDS, "slow", SlowEnvManager)  # type: ignore[index]
    monkeypatch.setenv("SECRET_BACKEND", "slow")
    results: list[object] = []
    barrier = threading.Barrier(8)

    def call() -> None:
        barrier.wait()
        results.append(create_secret_manager())

    threads = [threading.Thread(target=call) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(built) == 1
    assert len(results) == 8
    assert all(result is built[0] for result in results)


def test_refresh_ahead_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECRET_CACHE_REFRESH_AHEAD", "0.3")
    assert create_secret_manager().refresh_ahead == 0.3
    assert create_secret_manager(refresh_ahead=0).refresh_ahead == 0
