"""How a secret file is reached beneath SECRETS_DIR, and exact reads.

Every test runs twice: through the kernel's ``openat2`` and through the portable walk.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from libs.secrets import (
    FileSecretManager,
    SecretAccessDeniedError,
    SecretManagerError,
    SecretNotFoundError,
    beneath,
)
from libs.secrets.files import MAX_FILE_BYTES, read_secret_file


@pytest.fixture(autouse=True, params=["openat2", "walk"])
def mechanism(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "walk":
        monkeypatch.setattr(beneath, "_openat2", None)
        monkeypatch.setattr(beneath, "_probed", True)
    elif beneath._probe() is None:
        pytest.skip("this kernel has no openat2")
    return str(request.param)


def write(root: Path, key: str, data: bytes) -> None:
    path = root / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def test_plain_layout_resolves_no_path(tmpfs_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without symlinks the file is reached by plain O_NOFOLLOW opens: nothing is resolved."""
    write(tmpfs_dir, "alpaca/api_key_id", b"one")
    write(tmpfs_dir, "a/b/c/d", b"deep")
    write(tmpfs_dir, "token", b"top")
    write(tmpfs_dir, "team_app_password", b"credential")

    def no_resolving(*args: object, **kwargs: object) -> str:
        raise AssertionError(f"resolved {args!r}")

    monkeypatch.setattr(os.path, "realpath", no_resolving)
    monkeypatch.setattr(beneath, "open_beneath", no_resolving)
    assert read_secret_file(tmpfs_dir, "alpaca/api_key_id") == "one"
    assert read_secret_file(str(tmpfs_dir), "a/b/c/d") == "deep"
    assert read_secret_file(tmpfs_dir, "token") == "top"
    assert read_secret_file(tmpfs_dir, "team/app/password") == "credential"


@pytest.mark.parametrize("size", [0, 1, 4095, 4096, 4097, 65536 + 3, MAX_FILE_BYTES])
def test_exact_bytes_of_every_size(tmpfs_dir: Path, size: int) -> None:
    data = bytes(ord("a") + i % 26 for i in range(size))
    write(tmpfs_dir, "app/blob", data)
    assert read_secret_file(tmpfs_dir, "app/blob").encode() == data


def test_oversized_file_is_refused(tmpfs_dir: Path) -> None:
    write(tmpfs_dir, "app/blob", b"x" * (MAX_FILE_BYTES + 1))
    with pytest.raises(SecretManagerError, match="larger than the limit"):
        read_secret_file(tmpfs_dir, "app/blob")


def test_symlinked_directories_inside_the_tree_work(tmpfs_dir: Path) -> None:
    write(tmpfs_dir, "releases/v2/db/password", b"v2")
    (tmpfs_dir / "current").symlink_to("releases/v2")
    (tmpfs_dir / "releases" / "v2" / "alias").symlink_to("db")
    with FileSecretManager(tmpfs_dir, watch=False) as manager:
        assert manager.get_secret("current/db/password") == "v2"
        assert manager.get_secret("releases/v2/alias/password") == "v2"


def test_the_directory_itself_may_be_a_symlink(tmpfs_dir: Path) -> None:
    write(tmpfs_dir, "real/app/password", b"through the link")
    (tmpfs_dir / "link").symlink_to("real")
    with FileSecretManager(tmpfs_dir / "link", watch=False) as manager:
        assert manager.get_secret("app/password") == "through the link"


def test_deep_symlink_escaping_the_directory_is_refused(
    tmpfs_dir: Path, tmp_path: Path, canary: str
) -> None:
    write(tmp_path, "elsewhere/c/d", canary.encode())
    root = tmpfs_dir / "secrets"
    (root / "a").mkdir(parents=True)
    (root / "a" / "b").symlink_to(tmp_path / "elsewhere")
    with FileSecretManager(root, watch=False) as manager:
        with pytest.raises(SecretAccessDeniedError, match="outside") as info:
            manager.get_secret("a/b/c/d")
        assert canary not in str(info.value)


def test_a_file_in_place_of_a_directory_is_not_found(tmpfs_dir: Path) -> None:
    write(tmpfs_dir, "a/b", b"file")
    with (
        FileSecretManager(tmpfs_dir, watch=False) as manager,
        pytest.raises(SecretNotFoundError),
    ):
        manager.get_secret("a/b/c/d")


def test_dangling_in_tree_symlink_is_not_found(tmpfs_dir: Path) -> None:
    (tmpfs_dir / "app").mkdir()
    (tmpfs_dir / "app" / "password").symlink_to("gone")
    (tmpfs_dir / "dir").symlink_to("gone-dir")
    with FileSecretManager(tmpfs_dir, watch=False) as manager:
        for key in ("app/password", "dir/password"):
            with pytest.raises(SecretNotFoundError):
                manager.get_secret(key)


def test_absolute_symlink_is_refused_even_inside(tmpfs_dir: Path) -> None:
    """Only relative symlinks are followed: an absolute one cannot be checked in the same step."""
    write(tmpfs_dir, "real/password", b"inside")
    (tmpfs_dir / "alias").symlink_to(tmpfs_dir / "real")
    with FileSecretManager(tmpfs_dir, watch=False) as manager:
        with pytest.raises(SecretAccessDeniedError, match="outside the secrets directory"):
            manager.get_secret("alias/password")
        assert manager.get_secret("real/password") == "inside"


def test_symlink_loop_is_refused(tmpfs_dir: Path) -> None:
    (tmpfs_dir / "a").symlink_to("b")
    (tmpfs_dir / "b").symlink_to("a")
    with (
        FileSecretManager(tmpfs_dir, watch=False) as manager,
        pytest.raises(SecretAccessDeniedError, match="too many symlinks"),
    ):
        manager.get_secret("a/password")


def test_relative_directory(tmpfs_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmpfs_dir, "app/password", b"relative")
    monkeypatch.chdir(tmpfs_dir)
    assert read_secret_file(".", "app/password") == "relative"
    assert read_secret_file("", "app/password") == "relative"
