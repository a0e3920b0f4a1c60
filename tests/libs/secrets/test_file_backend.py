"""The file backend on a real tmpfs: exact bytes, LoadCredential names, symlinks, rotation."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from libs.secrets import (
    FileSecretManager,
    SecretAccessDeniedError,
    SecretBackendUnavailableError,
    SecretManagerError,
    SecretNotFoundError,
    files,
)

from .conftest import FakeTimer


def write(root: Path, key: str, data: bytes | str) -> Path:
    path = root / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def rotate(root: Path, key: str, data: str) -> None:
    """Replace a file the way the agent does: temp file in the same directory, then rename."""
    path = root / key
    temp = path.with_name(".tmp-rotate")
    temp.write_text(data)
    os.replace(temp, path)


def wait_for(predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.005)
    return predicate()


@pytest.mark.parametrize(
    "data", [b"secret\n", b"  padded  ", b"crlf\r\n", b"\n", b"multi\nline\nvalue"]
)
def test_exact_bytes(tmpfs_dir: Path, data: bytes) -> None:
    write(tmpfs_dir, "app/value", data)
    with FileSecretManager(tmpfs_dir) as manager:
        assert manager.get_secret("app/value") == data.decode()


def test_config_forms(tmpfs_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmpfs_dir, "a/b", "v")
    for config in (tmpfs_dir, str(tmpfs_dir), {"directory": str(tmpfs_dir)}):
        with FileSecretManager(config) as manager:  # type: ignore[arg-type]
            assert manager.get_secret("a/b") == "v"
    monkeypatch.setenv("SECRETS_DIR", str(tmpfs_dir))
    with FileSecretManager() as manager:
        assert manager.directory == tmpfs_dir


def test_default_directory(monkeypatch: pytest.MonkeyPatch, tmpfs_dir: Path) -> None:
    monkeypatch.delenv("SECRETS_DIR")
    assert FileSecretManager().directory == Path("/run/secrets")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmpfs_dir))
    assert FileSecretManager().directory == tmpfs_dir
    monkeypatch.setenv("SECRETS_DIR", "/elsewhere")
    assert FileSecretManager().directory == Path("/elsewhere")


def test_load_credential_fallback_name(tmpfs_dir: Path) -> None:
    write(tmpfs_dir, "alpaca_api_key_id", "from-systemd")
    write(tmpfs_dir, "team_app_password", "nested")
    with FileSecretManager(tmpfs_dir) as manager:
        assert manager.get_secret("alpaca/api_key_id") == "from-systemd"
        assert manager.get_secret("team/app/password") == "nested"
        write(tmpfs_dir, "alpaca/secret_key", "agent-layout")
        write(tmpfs_dir, "alpaca_secret_key", "systemd-layout")
        assert manager.get_secret("alpaca/secret_key") == "agent-layout"  # preferred


def test_load_credential_name_is_logged_once_per_key(
    tmpfs_dir: Path, canary: str, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(files, "_noted", set())
    write(tmpfs_dir, "alpaca_api_key_id", canary)
    write(tmpfs_dir, "team_app_password", "other")
    write(tmpfs_dir, "plain/key", "agent layout")
    caplog.set_level(logging.DEBUG, logger="libs.secrets")
    with FileSecretManager(tmpfs_dir, ttl_seconds=0, watch=False) as manager:
        for _ in range(3):
            assert manager.get_secret("alpaca/api_key_id") == canary
            assert manager.get_secret("team/app/password") == "other"
            assert manager.get_secret("plain/key") == "agent layout"
    infos = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert len(infos) == 2
    assert "'alpaca/api_key_id'" in infos[0] and "alpaca_api_key_id" in infos[0]
    assert "'team/app/password'" in infos[1] and "team_app_password" in infos[1]
    later = [r for r in caplog.records if r.levelno == logging.DEBUG and "LoadCredential" in r.msg]
    assert len(later) == 4  # the same note, at DEBUG, on every later read through that name
    assert all(canary not in r.getMessage() for r in caplog.records)


def test_missing_file_and_directory_as_key(tmpfs_dir: Path) -> None:
    write(tmpfs_dir, "alpaca/api_key_id", "v")
    with FileSecretManager(tmpfs_dir) as manager:
        for key in ("alpaca", "alpaca/api_key_id/deeper", "nope/nope"):
            with pytest.raises(SecretNotFoundError):
                manager.get_secret(key)


def test_missing_directory_is_unavailable(tmp_path: Path) -> None:
    with (
        FileSecretManager(tmp_path / "not-yet") as manager,
        pytest.raises(SecretBackendUnavailableError, match="does not exist"),
    ):
        manager.get_secret("alpaca/api_key_id")


def test_symlink_escaping_the_directory_is_refused(
    tmpfs_dir: Path, tmp_path: Path, canary: str
) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text(canary)
    root = tmpfs_dir / "secrets"
    root.mkdir()
    (root / "alpaca").mkdir()
    (root / "alpaca" / "api_key_id").symlink_to(outside)
    (root / "linkdir").symlink_to(tmp_path)
    (root / "dotdot").symlink_to("../../../../../../../../" + str(outside))
    with FileSecretManager(root) as manager:
        for key in ("alpaca/api_key_id", "linkdir/outside.txt", "dotdot"):
            with pytest.raises(SecretAccessDeniedError, match="outside") as info:
                manager.get_secret(key)
            assert canary not in str(info.value)


def test_symlinks_inside_the_directory_work(tmpfs_dir: Path) -> None:
    # The Kubernetes secret-volume layout: key -> ..data/key, ..data -> ..2024_01_01
    version = tmpfs_dir / "..2024_01_01"
    version.mkdir()
    (version / "password").write_text("k8s")
    (tmpfs_dir / "..data").symlink_to("..2024_01_01")
    (tmpfs_dir / "db").mkdir()
    (tmpfs_dir / "db" / "password").symlink_to("../..data/password")
    with FileSecretManager(tmpfs_dir) as manager:
        assert manager.get_secret("db/password") == "k8s"


def test_fifo_is_refused_without_blocking(tmpfs_dir: Path) -> None:
    (tmpfs_dir / "app").mkdir()
    os.mkfifo(tmpfs_dir / "app" / "pipe")
    with (
        FileSecretManager(tmpfs_dir) as manager,
        pytest.raises(SecretAccessDeniedError, match="regular file"),
    ):
        manager.get_secret("app/pipe")


def test_invalid_utf8_is_an_error_without_the_bytes(tmpfs_dir: Path) -> None:
    write(tmpfs_dir, "app/binary", b"\xffcanary-bytes\xfe")
    with (
        FileSecretManager(tmpfs_dir) as manager,
        pytest.raises(SecretManagerError, match="UTF-8") as info,
    ):
        manager.get_secret("app/binary")
    assert info.value.__cause__ is None
    assert info.value.__suppress_context__
    assert "canary-bytes" not in repr(info.value)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to read as uid 65534")
def test_permission_denied_for_another_user(tmpfs_dir: Path) -> None:
    write(tmpfs_dir, "app/password", "root-only")
    os.chmod(tmpfs_dir / "app" / "password", 0o400)
    for directory in (tmpfs_dir, tmpfs_dir / "app"):  # nobody may traverse, not read the file
        os.chown(directory, 65534, 65534)
    manager = FileSecretManager(tmpfs_dir, watch=False)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: drop to nobody and try to read
        outcome = b"unexpected"
        try:
            os.setgid(65534)
            os.setuid(65534)
            manager.get_secret("app/password")
            outcome = b"read"
        except SecretAccessDeniedError as exc:
            outcome = b"denied " + str(exc.key).encode()
        except BaseException as exc:
            outcome = type(exc).__name__.encode()
        finally:
            os.write(write_end, outcome)
            os._exit(0)
    os.close(write_end)
    os.waitpid(pid, 0)
    with os.fdopen(read_end, "rb") as pipe:
        assert pipe.read() == b"denied app/password"


def test_rotation_seen_through_the_observer_with_a_long_ttl(tmpfs_dir: Path) -> None:
    write(tmpfs_dir, "alpaca/api_key_id", "v1")
    write(tmpfs_dir, "alpaca/secret_key", "s1")
    with FileSecretManager(tmpfs_dir, ttl_seconds=3600) as manager:
        assert manager.get_secret("alpaca/api_key_id") == "v1"
        assert manager.get_secret("alpaca/secret_key") == "s1"
        assert manager.watching
        rotate(tmpfs_dir, "alpaca/api_key_id", "v2")
        assert wait_for(lambda: manager.get_secret("alpaca/api_key_id") == "v2")
        # in-place rewrite and deletion are seen too
        (tmpfs_dir / "alpaca" / "api_key_id").write_text("v3")
        assert wait_for(lambda: manager.get_secret("alpaca/api_key_id") == "v3")
        (tmpfs_dir / "alpaca" / "api_key_id").unlink()

        def gone() -> bool:
            try:
                manager.get_secret("alpaca/api_key_id")
            except SecretNotFoundError:
                return True
            return False

        assert wait_for(gone)
        assert manager.get_secret("alpaca/secret_key") == "s1"
    assert not manager.watching


def test_observer_is_a_daemon_started_lazily_and_stopped_by_close(tmpfs_dir: Path) -> None:
    import threading

    write(tmpfs_dir, "a/b", "v")
    before = set(threading.enumerate())
    manager = FileSecretManager(tmpfs_dir)
    assert not manager.watching
    assert set(threading.enumerate()) == before
    manager.get_secret("a/b")
    started = set(threading.enumerate()) - before
    assert started
    assert all(thread.daemon for thread in started)
    manager.close()
    assert wait_for(lambda: not any(t.is_alive() for t in started), timeout=5)


def test_watch_disabled_relies_on_ttl(tmpfs_dir: Path, timer: FakeTimer) -> None:
    write(tmpfs_dir, "a/b", "v1")
    with FileSecretManager(tmpfs_dir, ttl_seconds=10, timer=timer, watch=False) as manager:
        assert manager.get_secret("a/b") == "v1"
        rotate(tmpfs_dir, "a/b", "v2")
        assert manager.get_secret("a/b") == "v1"
        timer.advance(10)
        assert manager.get_secret("a/b") == "v2"
        assert not manager.watching


def test_change_mapping(tmpfs_dir: Path, timer: FakeTimer) -> None:
    keys = ["alpaca/api_key_id", "alpaca/secret_key", "db/password", "token"]
    for key in keys:
        write(tmpfs_dir, key, key)
    with FileSecretManager(tmpfs_dir, ttl_seconds=10, timer=timer, watch=False) as manager:

        def fresh() -> set[str]:
            return {key for key in keys if key in manager.cache}

        def reload() -> None:
            for key in keys:
                manager.get_secret(key)

        reload()
        manager._on_change(".tmp-abc")  # the agent's temp files
        manager._on_change("alpaca/.tmp-abc")
        manager._on_change(".status.json")
        assert fresh() == set(keys)
        manager._on_change("alpaca/api_key_id")
        assert fresh() == set(keys) - {"alpaca/api_key_id"}
        reload()
        manager._on_change("alpaca")  # the whole directory replaced
        assert fresh() == {"db/password", "token"}
        reload()
        manager._on_change("db_password")  # a LoadCredential-style name
        assert fresh() == set(keys) - {"db/password"}
        reload()
        manager._on_change("..data")  # Kubernetes atomic swap
        assert fresh() == set()
        reload()
        manager._on_change(".")  # the root itself moved or deleted
        assert fresh() == set()
