"""SecretWriter on a real tmpfs: modes, owners, symlinks, FIFOs, full disks, other users."""

from __future__ import annotations

import contextlib
import os
import stat
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from secrets_agent.writer.writer import OutputDirError, SecretWriter, WriteError

NOBODY = 65534


@contextlib.contextmanager
def umask(value: int) -> Iterator[None]:
    old = os.umask(value)
    try:
        yield
    finally:
        os.umask(old)


def temps(root: Path) -> list[str]:
    return [p.name for p in root.rglob(".tmp-*")]


def read_as_nobody(path: Path) -> subprocess.CompletedProcess[str]:
    """Try to read ``path`` as uid/gid 65534 in a fresh process; stdout is the content."""
    return subprocess.run(
        ["/bin/cat", "--", str(path)],
        user=NOBODY,
        group=NOBODY,
        extra_groups=[],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


@pytest.fixture
def out(tmpfs_dir: Path) -> Path:
    return tmpfs_dir / "out"


@pytest.fixture
def writer(out: Path) -> SecretWriter:
    w = SecretWriter(out)
    w.prepare()
    return w


needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")


@pytest.mark.parametrize("mask", [0o000, 0o022, 0o077, 0o777])
def test_prepare_creates_dir_and_files_with_exact_modes(out: Path, mask: int) -> None:
    with umask(mask):
        writer = SecretWriter(out, dir_mode=0o750)
        writer.prepare()
        assert stat.S_IMODE(out.stat().st_mode) == 0o750
        assert writer.write("app/key", b"v", mode=0o440) is True
        assert writer.write("top", b"v", mode=0o600) is True
    assert stat.S_IMODE((out / "app").stat().st_mode) == 0o750
    assert stat.S_IMODE((out / "app" / "key").stat().st_mode) == 0o440
    assert stat.S_IMODE((out / "top").stat().st_mode) == 0o600


def test_prepare_needs_existing_parent(tmpfs_dir: Path) -> None:
    with pytest.raises(OutputDirError, match="cannot create"):
        SecretWriter(tmpfs_dir / "missing" / "out").prepare()


def test_content_written_exactly_and_unchanged_is_not_rewritten(
    writer: SecretWriter, out: Path
) -> None:
    value = "p\u00e4ss\n\x00 end".encode()
    assert writer.write("a/b/c", value, mode=0o400) is True
    path = out / "a" / "b" / "c"
    assert path.read_bytes() == value
    before = path.stat()
    assert writer.write("a/b/c", value, mode=0o400) is False
    after = path.stat()
    assert (after.st_ino, after.st_mtime_ns, after.st_ctime_ns) == (
        before.st_ino,
        before.st_mtime_ns,
        before.st_ctime_ns,
    )
    assert writer.write("a/b/c", b"new", mode=0o400) is True
    assert path.read_bytes() == b"new"
    assert path.stat().st_ino != before.st_ino
    assert writer.write("a/b/c", b"new", mode=0o440) is True  # mode change alone
    assert stat.S_IMODE(path.stat().st_mode) == 0o440
    assert writer.write("a/b/c", b"", mode=0o440) is True
    assert path.read_bytes() == b""
    assert writer.write("a/b/c", b"", mode=0o440) is False
    assert temps(out) == []


@needs_root
def test_owner_and_group_set_before_rename_and_compared(writer: SecretWriter, out: Path) -> None:
    assert writer.write("k", b"v", mode=0o400, uid=NOBODY, gid=NOBODY) is True
    st = (out / "k").stat()
    assert (st.st_uid, st.st_gid) == (NOBODY, NOBODY)
    assert writer.write("k", b"v", mode=0o400, uid=NOBODY, gid=NOBODY) is False
    assert writer.write("k", b"v", mode=0o400) is True  # back to the agent's own uid/gid
    st = (out / "k").stat()
    assert (st.st_uid, st.st_gid) == (os.geteuid(), os.getegid())
    assert writer.write("k", b"v", mode=0o400) is False


@needs_root
def test_other_user_cannot_read_but_group_member_can(tmpfs_dir: Path, canary: str) -> None:
    out = tmpfs_dir / "out"
    writer = SecretWriter(out, dir_mode=0o750)
    writer.prepare()
    os.chown(tmpfs_dir, 0, NOBODY)
    os.chmod(tmpfs_dir, 0o750)  # noqa: S103 - let the group traverse to the files
    os.chown(out, 0, NOBODY)
    writer.write("shared/key", canary.encode(), mode=0o440, gid=NOBODY)
    writer.write("private/key", canary.encode(), mode=0o400)
    writer.write("toplevel", canary.encode(), mode=0o400)
    assert (out / "shared").stat().st_gid == NOBODY  # created with the file's group
    ok = read_as_nobody(out / "shared" / "key")
    assert ok.returncode == 0 and ok.stdout == canary
    for denied in (out / "private" / "key", out / "toplevel"):
        result = read_as_nobody(denied)
        assert result.returncode != 0
        assert "Permission denied" in result.stderr and canary not in result.stdout


@needs_root
def test_default_private_layout_denies_other_users(writer: SecretWriter, out: Path) -> None:
    os.chmod(out.parent, 0o755)  # noqa: S103 - only output_dir itself should stop others
    writer.write("alpaca/api_key_id", b"x", mode=0o400)
    result = read_as_nobody(out / "alpaca" / "api_key_id")
    assert result.returncode != 0 and "Permission denied" in result.stderr


def test_symlink_at_target_is_replaced_not_followed(
    writer: SecretWriter, out: Path, tmpfs_dir: Path
) -> None:
    victim = tmpfs_dir / "victim"
    victim.write_bytes(b"original")
    (out / "key").symlink_to(victim)
    assert writer.write("key", b"secret", mode=0o400) is True
    assert victim.read_bytes() == b"original"
    assert not (out / "key").is_symlink()
    assert (out / "key").read_bytes() == b"secret"


def test_symlinked_subdirectory_is_never_followed(
    writer: SecretWriter, out: Path, tmpfs_dir: Path
) -> None:
    elsewhere = tmpfs_dir / "elsewhere"
    elsewhere.mkdir()
    (out / "app").symlink_to(elsewhere)
    with pytest.raises(WriteError, match="symlink"):
        writer.write("app/key", b"secret", mode=0o400)
    (out / "deep").mkdir()
    (out / "deep" / "er").symlink_to(elsewhere)
    with pytest.raises(WriteError, match="symlink"):
        writer.write("deep/er/key", b"secret", mode=0o400)
    assert list(elsewhere.iterdir()) == []
    assert list(elsewhere.iterdir()) == []


def test_remove_never_follows_symlinked_directory(
    writer: SecretWriter, out: Path, tmpfs_dir: Path
) -> None:
    elsewhere = tmpfs_dir / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "key").write_bytes(b"keep")
    (out / "app").symlink_to(elsewhere)
    with pytest.raises(WriteError, match="symlink"):
        writer.remove("app/key")
    assert (elsewhere / "key").read_bytes() == b"keep"


def test_output_dir_symlink_refused(tmpfs_dir: Path) -> None:
    real = tmpfs_dir / "real"
    real.mkdir(mode=0o700)
    (tmpfs_dir / "link").symlink_to(real)
    with pytest.raises(OutputDirError, match="symlink"):
        SecretWriter(tmpfs_dir / "link").prepare()


def test_world_writable_output_dir_refused(tmpfs_dir: Path) -> None:
    out = tmpfs_dir / "ww"
    out.mkdir()
    out.chmod(0o1777)
    with pytest.raises(OutputDirError, match="world-writable"):
        SecretWriter(out).prepare()


def test_write_rechecks_output_dir(writer: SecretWriter, out: Path) -> None:
    out.chmod(0o777)
    with pytest.raises(WriteError, match="world-writable"):
        writer.write("k", b"v", mode=0o400)
    assert not (out / "k").exists()


@needs_root
def test_foreign_owned_output_dir_refused(out: Path) -> None:
    out.mkdir(mode=0o700)
    os.chown(out, NOBODY, NOBODY)
    with pytest.raises(OutputDirError, match="owned by uid 65534"):
        SecretWriter(out).prepare()


@needs_root
def test_foreign_owned_subdirectory_refused(writer: SecretWriter, out: Path) -> None:
    (out / "sub").mkdir(mode=0o700)
    os.chown(out / "sub", NOBODY, NOBODY)
    with pytest.raises(WriteError, match="owned"):
        writer.write("sub/k", b"v", mode=0o400)


def test_non_tmpfs_refused_unless_allowed(tmp_path: Path) -> None:
    if os.statvfs(tmp_path) and Path("/proc/self/mountinfo").exists():
        from secrets_agent.writer import is_memory_fs

        fd = os.open(tmp_path, os.O_RDONLY)
        try:
            if is_memory_fs(fd):
                pytest.skip("tmp_path is itself on tmpfs here")
        finally:
            os.close(fd)
    out = tmp_path / "out"
    with pytest.raises(OutputDirError, match="not tmpfs or ramfs"):
        SecretWriter(out).prepare()
    assert not out.exists()  # refused before anything was created
    writer = SecretWriter(out, allow_non_tmpfs=True)
    writer.prepare()
    assert writer.write("k", b"v", mode=0o400) is True
    assert (out / "k").read_bytes() == b"v"


@pytest.fixture
def tiny_tmpfs(tmpfs_dir: Path) -> Iterator[Path]:
    mnt = tmpfs_dir / "tiny"
    mnt.mkdir()
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=16k,mode=0700", "tmpfs", str(mnt)],
        capture_output=True,
        check=False,
    )
    if result.returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_full_filesystem_keeps_old_file_and_leaves_no_temp(tiny_tmpfs: Path, canary: str) -> None:
    writer = SecretWriter(tiny_tmpfs)
    writer.prepare()
    writer.write("key", b"old-value", mode=0o400)
    big = (canary * 2000).encode()[: 64 * 1024]
    with pytest.raises(WriteError) as info:
        writer.write("key", big, mode=0o400)
    assert "No space left on device" in str(info.value)
    assert info.value.target == "key"
    assert canary not in str(info.value) and canary not in repr(info.value)
    assert (tiny_tmpfs / "key").read_bytes() == b"old-value"
    assert temps(tiny_tmpfs) == []
    with pytest.raises(WriteError):
        writer.write("sub/new", big, mode=0o400)
    assert temps(tiny_tmpfs) == []


def test_hard_link_at_target_is_replaced(writer: SecretWriter, out: Path, tmpfs_dir: Path) -> None:
    other = tmpfs_dir / "other"
    other.write_bytes(b"v")
    other.chmod(0o400)
    os.link(other, out / "key")
    assert writer.write("key", b"v", mode=0o400) is True  # same bytes, but a shared inode
    assert other.read_bytes() == b"v" and other.stat().st_nlink == 1
    assert (out / "key").stat().st_nlink == 1
    assert writer.write("key", b"new", mode=0o400) is True
    assert other.read_bytes() == b"v"


def test_fifo_at_target_is_replaced_without_blocking(writer: SecretWriter, out: Path) -> None:
    os.mkfifo(out / "key")
    done: list[bool] = []
    thread = threading.Thread(target=lambda: done.append(writer.write("key", b"v", mode=0o400)))
    thread.start()
    thread.join(10)
    if thread.is_alive():  # unblock the writer so the test run can finish, then fail
        fd = os.open(out / "key", os.O_RDWR | os.O_NONBLOCK)
        os.close(fd)
        pytest.fail("write blocked on a FIFO")
    assert done == [True]
    assert stat.S_ISREG((out / "key").lstat().st_mode)
    assert (out / "key").read_bytes() == b"v"


def test_directory_at_target_is_refused(writer: SecretWriter, out: Path) -> None:
    (out / "key").mkdir()
    (out / "key" / "inner").write_bytes(b"keep")
    with pytest.raises(WriteError, match="directory is in the way"):
        writer.write("key", b"v", mode=0o400)
    assert (out / "key" / "inner").read_bytes() == b"keep"
    assert temps(out) == []


def test_file_in_place_of_a_directory_is_refused(writer: SecretWriter, out: Path) -> None:
    writer.write("a", b"raw", mode=0o400)
    with pytest.raises(WriteError, match="not a directory"):
        writer.write("a/field", b"v", mode=0o400)
    assert (out / "a").read_bytes() == b"raw"


def test_prepare_removes_stale_temp_files_only(out: Path, tmpfs_dir: Path) -> None:
    writer = SecretWriter(out)
    writer.prepare()
    writer.write("app/key", b"v", mode=0o400)
    (out / ".tmp-1234").write_bytes(b"stale")
    (out / "app" / ".tmp-5678").write_bytes(b"stale")
    (out / ".status.json").write_bytes(b"{}")
    elsewhere = tmpfs_dir / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / ".tmp-keep").write_bytes(b"not ours")
    (out / "link").symlink_to(elsewhere)
    SecretWriter(out).prepare()
    assert temps(out) == []
    assert (out / "app" / "key").read_bytes() == b"v"
    assert (out / ".status.json").exists()
    assert (elsewhere / ".tmp-keep").exists()


def test_remove_prunes_files_and_empty_directories(writer: SecretWriter, out: Path) -> None:
    writer.write("a/b/one", b"1", mode=0o400)
    writer.write("a/b/two", b"2", mode=0o400)
    writer.write("a/three", b"3", mode=0o400)
    assert writer.remove("a/b/one") is True
    assert (out / "a" / "b").is_dir()
    assert writer.remove("a/b/two") is True
    assert not (out / "a" / "b").exists()
    assert (out / "a").is_dir()
    assert writer.remove("a/three") is True
    assert list(out.iterdir()) == []
    assert out.is_dir()
    assert writer.remove("a/three") is False
    assert writer.remove("never/was") is False


def test_remove_leaves_non_regular_files(writer: SecretWriter, out: Path, tmpfs_dir: Path) -> None:
    os.mkfifo(out / "fifo")
    (out / "link").symlink_to(tmpfs_dir)
    (out / "dir").mkdir()
    for name in ("fifo", "link", "dir"):
        assert writer.remove(name) is False
        assert os.path.lexists(out / name)


def test_write_dotfile(writer: SecretWriter, out: Path) -> None:
    writer.write_dotfile(".status.json", b"{}")
    assert stat.S_IMODE((out / ".status.json").stat().st_mode) == 0o600
    writer.write_dotfile(".status.json", b"{}", mode=0o640)
    assert stat.S_IMODE((out / ".status.json").stat().st_mode) == 0o640
    for bad in ("status.json", ".", "..", ".tmp-x", ".a/b", "."):
        with pytest.raises(ValueError):
            writer.write_dotfile(bad, b"{}")


@pytest.mark.parametrize("relpath", ["../x", "/etc/x", ".status.json", "a/.tmp-1", "a//b", ""])
def test_invalid_relpaths_rejected(writer: SecretWriter, relpath: str) -> None:
    with pytest.raises(ValueError):
        writer.write(relpath, b"v", mode=0o400)
    with pytest.raises(ValueError):
        writer.remove(relpath)


def test_invalid_mode_rejected(writer: SecretWriter) -> None:
    with pytest.raises(ValueError):
        writer.write("k", b"v", mode=0o4755)


def test_concurrent_writes_to_different_targets(writer: SecretWriter, out: Path) -> None:
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for round_ in range(40):
                writer.write(f"t{n}/f{round_ % 4}", f"{n}-{round_}".encode(), mode=0o400)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    for n in range(8):
        for f in range(4):
            assert (out / f"t{n}" / f"f{f}").read_bytes() == f"{n}-{36 + f}".encode()
    assert temps(out) == []


def test_no_chown_when_the_new_file_already_has_the_ids(
    writer: SecretWriter, out: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A hardened unit's SystemCallFilter refuses chown: it must not be called for ids the new
    # file (or directory) already has, e.g. group = the agent's own group.
    calls: list[tuple[int, int, int]] = []

    def refuse(fd: int, uid: int, gid: int) -> None:
        calls.append((fd, uid, gid))
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "fchown", refuse)
    me, group = os.geteuid(), os.getegid()
    assert writer.write("k", b"v", mode=0o440, uid=me, gid=group) is True
    assert writer.write("sub/k", b"v", mode=0o440, gid=group) is True  # new dir too
    assert writer.write("k", b"w", mode=0o440, uid=me) is True
    assert calls == []
    st = (out / "sub" / "k").stat()
    assert (st.st_uid, st.st_gid) == (me, group)


@needs_root
def test_no_chown_for_the_group_a_setgid_directory_gives(
    writer: SecretWriter, out: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (out / "shared").mkdir(mode=0o750)
    os.chown(out / "shared", 0, NOBODY)
    os.chmod(out / "shared", 0o2750)  # noqa: S103 - setgid, group 65534 may read
    real = os.fchown
    calls: list[tuple[int, int]] = []

    def spy(fd: int, uid: int, gid: int) -> None:
        calls.append((uid, gid))
        real(fd, uid, gid)

    monkeypatch.setattr(os, "fchown", spy)
    assert writer.write("shared/k", b"v", mode=0o440, gid=NOBODY) is True
    assert calls == []  # the setgid directory already gave the file group 65534
    assert (out / "shared" / "k").stat().st_gid == NOBODY
    assert writer.write("shared/k", b"v", mode=0o440, gid=NOBODY) is False
    assert writer.write("other", b"v", mode=0o440, uid=NOBODY, gid=NOBODY) is True
    assert calls == [(NOBODY, NOBODY)]  # ids that differ are still set, as root can
    st = (out / "other").stat()
    assert (st.st_uid, st.st_gid) == (NOBODY, NOBODY)


def test_kept_directory_replaced_by_a_symlink_is_not_followed(
    writer: SecretWriter, out: Path, tmpfs_dir: Path
) -> None:
    writer.write("app/key", b"one", mode=0o400)  # the writer now keeps app/ open
    elsewhere = tmpfs_dir / "elsewhere"
    os.rename(out / "app", elsewhere)
    (out / "app").symlink_to(elsewhere)
    with pytest.raises(WriteError, match="symlink"):
        writer.write("app/key", b"two", mode=0o400)
    assert (elsewhere / "key").read_bytes() == b"one"


def test_kept_directories_follow_a_replaced_path(
    writer: SecretWriter, out: Path, tmpfs_dir: Path
) -> None:
    writer.write("app/key", b"one", mode=0o400)
    os.rename(out / "app", tmpfs_dir / "moved-app")
    (out / "app").mkdir(mode=0o700)
    assert writer.write("app/key", b"two", mode=0o400) is True
    assert (out / "app" / "key").read_bytes() == b"two"
    assert (tmpfs_dir / "moved-app" / "key").read_bytes() == b"one"
    os.rename(out, tmpfs_dir / "moved-out")  # output_dir itself replaced
    out.mkdir(mode=0o700)
    assert writer.write("app/key", b"three", mode=0o400) is True
    assert (out / "app" / "key").read_bytes() == b"three"
    assert (tmpfs_dir / "moved-out" / "app" / "key").read_bytes() == b"two"
    (out / "app").chmod(0o777)
    with pytest.raises(WriteError, match="world-writable"):
        writer.write("app/key", b"four", mode=0o400)


def test_kept_directory_descriptors_are_bounded(writer: SecretWriter, out: Path) -> None:
    from secrets_agent.writer.directories import DEFAULT_LIMIT

    before = len(os.listdir("/proc/self/fd"))
    for n in range(DEFAULT_LIMIT + 40):
        writer.write(f"d{n}/k", b"v", mode=0o400)
    assert len(os.listdir("/proc/self/fd")) - before <= DEFAULT_LIMIT + 1
    writer.close()
    assert len(os.listdir("/proc/self/fd")) <= before
    assert writer.write("d0/k", b"w", mode=0o400) is True  # reopened after close()
