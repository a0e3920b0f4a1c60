"""``open_inside`` on a real tmpfs: the plain path, then openat2 or the portable walk alike."""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from libs.secrets import beneath

FLAGS = os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK


@pytest.fixture(params=["openat2", "walk"])
def mechanism(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "walk":
        monkeypatch.setattr(beneath, "_openat2", None)
        monkeypatch.setattr(beneath, "_probed", True)
    elif beneath._probe() is None:
        pytest.skip("this kernel has no openat2")
    return str(request.param)


@pytest.fixture
def root(tmpfs_dir: Path) -> str:
    """``<tmpfs>/root``, the directory opened inside."""
    path = tmpfs_dir / "root"
    path.mkdir()
    return str(path)


def put(base: Path, relative: str, text: str) -> None:
    path = base / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def read(directory: str, relative: str) -> str:
    fd = beneath.open_inside(directory, relative, FLAGS)
    try:
        return os.read(fd, 4096).decode()
    finally:
        os.close(fd)


def errno_of(call: Callable[[], object]) -> int | None:
    try:
        call()
    except OSError as exc:
        return exc.errno
    return None


def test_links_inside_are_followed(mechanism: str, tmpfs_dir: Path, root: str) -> None:
    base = tmpfs_dir / "root"
    put(base, "..2024_01_01/password", "k8s")
    (base / "..data").symlink_to("..2024_01_01")
    (base / "db").mkdir()
    (base / "db" / "password").symlink_to("../..data/password")
    put(base, "releases/v2/db/token", "v2")
    (base / "current").symlink_to("releases/./v2/../v2")
    (base / "releases" / "v2" / "self").symlink_to(".")
    assert read(root, "db/password") == "k8s"
    assert read(root, "current/db/token") == "v2"
    assert read(root, "current/self/self/db/token") == "v2"


def test_plain_tree_needs_no_resolving(
    mechanism: str, tmpfs_dir: Path, root: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without symlinks, the plain O_NOFOLLOW opens reach the file: no openat2, no walk."""

    def no_resolving(*args: object) -> int:
        raise AssertionError("resolved a path without symlinks")

    monkeypatch.setattr(beneath, "open_beneath", no_resolving)
    put(tmpfs_dir / "root", "a/b/c", "plain")
    put(tmpfs_dir / "root", "top", "level")
    assert read(root, "a/b/c") == "plain"
    assert read(root, "top") == "level"
    assert errno_of(lambda: read(root, "a/nope")) == errno.ENOENT


def test_from_a_descriptor(mechanism: str, tmpfs_dir: Path, root: str) -> None:
    put(tmpfs_dir / "root", "real/key", "by descriptor")
    (tmpfs_dir / "root" / "link").symlink_to("real")
    (tmpfs_dir / "root" / "out").symlink_to("..")
    dir_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fd = beneath.open_beneath(dir_fd, "link/key", FLAGS)
        try:
            assert os.read(fd, 100) == b"by descriptor"
        finally:
            os.close(fd)
        assert errno_of(lambda: beneath.open_beneath(dir_fd, "out/root/real/key", FLAGS)) == (
            errno.EXDEV
        )
    finally:
        os.close(dir_fd)


def test_links_leaving_are_refused(mechanism: str, tmpfs_dir: Path, root: str) -> None:
    base = tmpfs_dir / "root"
    put(tmpfs_dir, "outside/password", "not yours")
    put(base, "inside/password", "yours")
    (base / "up").symlink_to("../outside")
    (base / "deep").mkdir()
    (base / "deep" / "climb").symlink_to("../../outside/password")
    (base / "absolute_out").symlink_to(tmpfs_dir / "outside")
    # An absolute link is refused even when it points inside: only relative ones are followed.
    (base / "absolute_in").symlink_to(base / "inside")
    for relative in ("up/password", "deep/climb", "absolute_out/password", "absolute_in/password"):
        assert errno_of(lambda r=relative: read(root, r)) == errno.EXDEV, relative


def test_missing_and_misplaced(mechanism: str, tmpfs_dir: Path, root: str) -> None:
    base = tmpfs_dir / "root"
    put(base, "a/file", "x")
    (base / "dangling").symlink_to("gone")
    (base / "loop1").symlink_to("loop2")
    (base / "loop2").symlink_to("loop1")
    assert errno_of(lambda: read(root, "nope/x")) == errno.ENOENT
    assert errno_of(lambda: read(root, "dangling")) == errno.ENOENT
    assert errno_of(lambda: read(root, "a/file/deeper")) == errno.ENOTDIR
    assert errno_of(lambda: read(root, "loop1")) == errno.ELOOP


def test_no_descriptor_is_left_open(mechanism: str, tmpfs_dir: Path, root: str) -> None:
    base = tmpfs_dir / "root"
    put(base, "r/e/a/l", "x")
    (base / "link").symlink_to("r/e")
    (base / "out").symlink_to("../..")
    before = len(os.listdir("/proc/self/fd"))
    for _ in range(50):
        os.close(beneath.open_inside(root, "link/a/l", FLAGS))
        for relative in ("link/a/nope", "out/x", "r/e/a/l/x"):
            errno_of(lambda r=relative: beneath.open_inside(root, r, FLAGS))
    assert len(os.listdir("/proc/self/fd")) == before


def test_a_link_that_stops_being_one_is_looked_at_again(tmpfs_dir: Path) -> None:
    (tmpfs_dir / "dir").mkdir()
    (tmpfs_dir / "file").write_text("x")
    fd = os.open(tmpfs_dir, os.O_RDONLY | os.O_DIRECTORY)
    try:
        # Swapped back to a directory after open() said "symlink": look again.
        assert beneath._link_target("dir", fd, OSError(errno.ELOOP, "")) is None
        # A file where a directory was expected: the original error stands.
        with pytest.raises(OSError) as info:
            beneath._link_target("file", fd, OSError(errno.ENOTDIR, "not a directory"))
        assert info.value.errno == errno.ENOTDIR
    finally:
        os.close(fd)


@pytest.mark.parametrize("answer", [errno.ENOSYS, errno.EPERM])
def test_kernel_without_openat2_takes_the_walk(
    monkeypatch: pytest.MonkeyPatch, tmpfs_dir: Path, root: str, answer: int
) -> None:
    """ENOSYS (old kernel) or EPERM (a seccomp filter) on the probe: the walk from then on."""
    calls: list[bytes] = []

    def refusing(dir_fd: int, path: bytes, flags: int) -> int:
        calls.append(path)
        return -answer

    monkeypatch.setattr(beneath, "_load", lambda: refusing)
    monkeypatch.setattr(beneath, "_probed", False)
    put(tmpfs_dir / "root", "a/b", "walked")
    (tmpfs_dir / "root" / "link").symlink_to("a")
    assert read(root, "link/b") == "walked"
    assert read(root, "link/b") == "walked"
    assert calls == [b"."]  # probed once, never called again


def test_eagain_is_retried_then_walked(
    monkeypatch: pytest.MonkeyPatch, tmpfs_dir: Path, root: str
) -> None:
    calls = 0

    def busy(dir_fd: int, path: bytes, flags: int) -> int:
        nonlocal calls
        calls += 1
        return -errno.EAGAIN

    monkeypatch.setattr(beneath, "_openat2", busy)
    monkeypatch.setattr(beneath, "_probed", True)
    put(tmpfs_dir / "root", "a/b", "walked")
    (tmpfs_dir / "root" / "link").symlink_to("a")
    assert read(root, "link/b") == "walked"
    assert calls == beneath._RETRIES
