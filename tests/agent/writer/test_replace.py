"""The files of one secret are replaced all or nothing, and one secret cannot fill the tmpfs.

Run on small real tmpfs mounts (root only): a field set rotated on a file system out of inodes
or space keeps every old file, and a secret with thousands of fields is refused before it takes
the inodes another secret needs.
"""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from secrets_agent.config.schema import SecretSpec
from secrets_agent.daemon.refresh import refresh
from secrets_agent.daemon.state import SecretState
from secrets_agent.sources.result import SecretData
from secrets_agent.writer import SecretWriter, WriteError

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to mount a tmpfs")


@contextlib.contextmanager
def small_tmpfs(where: Path, options: str) -> Iterator[Path]:
    where.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"{options},mode=0700", "tmpfs", str(where)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def snapshot(root: Path) -> dict[str, tuple[int, bytes]]:
    return {
        str(p.relative_to(root)): (p.stat().st_ino, p.read_bytes())
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def fill_inodes(where: Path, leave: int) -> list[Path]:
    """Take every free inode of the file system below ``where`` but ``leave``."""
    where.mkdir()
    taken: list[Path] = []
    while True:
        path = where / f"f{len(taken)}"
        try:
            path.touch()
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
            break
        taken.append(path)
    for path in taken[len(taken) - leave :]:
        path.unlink()
    return taken[: len(taken) - leave]


def test_a_field_set_is_replaced_all_or_nothing_when_inodes_run_out(tmpfs_dir: Path) -> None:
    with small_tmpfs(tmpfs_dir / "mnt", "size=1m,nr_inodes=64") as mnt:
        writer = SecretWriter(mnt / "out")
        writer.prepare()
        old = {f"app/f{i}": f"old-{i}".encode() for i in range(10)}
        assert sorted(writer.write_files(old, mode=0o400)) == sorted(old)
        before = snapshot(mnt / "out")
        filler = fill_inodes(mnt / "filler", leave=3)  # 3 free: not enough for 10 new files
        free = os.statvfs(mnt).f_ffree
        new = {name: content.replace(b"old", b"new") for name, content in old.items()}
        with pytest.raises(WriteError) as info:
            writer.write_files(new, mode=0o400)
        assert info.value.errno == errno.ENOSPC and "No space left on device" in str(info.value)
        assert snapshot(mnt / "out") == before  # every old file: same inode, same bytes
        assert os.statvfs(mnt).f_ffree == free  # the staged files were removed again
        assert not list((mnt / "out").rglob(".tmp-*"))
        # A set that grows (12 files, 10 of them replaced) cannot end half old, half new either;
        # one rename per file would stop after the first new file here.
        grown = {**new, "app/extra1": b"e1", "app/extra2": b"e2"}
        with pytest.raises(WriteError, match="No space left on device"):
            writer.write_files(grown, mode=0o400)
        assert snapshot(mnt / "out") == before
        for path in filler[:20]:
            path.unlink()
        assert sorted(writer.write_files(new, mode=0o400)) == sorted(new)
        writer.close()  # removes the old set, kept a moment for readers in flight
        assert {k: v for k, (_ino, v) in snapshot(mnt / "out").items()} == new


def test_a_field_set_is_replaced_all_or_nothing_when_space_runs_out(tmpfs_dir: Path) -> None:
    with small_tmpfs(tmpfs_dir / "mnt", "size=256k,nr_inodes=1000") as mnt:
        writer = SecretWriter(mnt / "out")
        writer.prepare()
        old = {f"app/f{i}": bytes([65 + i]) * 20_000 for i in range(5)}
        writer.write_files(old, mode=0o400)
        before = snapshot(mnt / "out")
        new = {name: b"n" * 30_000 for name in old}  # 250 KB more than the 256 KB mount
        with pytest.raises(WriteError, match="No space left on device"):
            writer.write_files(new, mode=0o400)
        assert snapshot(mnt / "out") == before
        assert not list((mnt / "out").rglob(".tmp-*"))


def test_files_written_together_share_one_directory(tmpfs_dir: Path) -> None:
    writer = SecretWriter(tmpfs_dir / "out")
    writer.prepare()
    with pytest.raises(ValueError, match="one directory"):
        writer.write_files({"a/x": b"1", "b/y": b"2"}, mode=0o400)
    with pytest.raises(ValueError, match="invalid target path"):
        writer.write_files({"a/x": b"1", "a/.y": b"2"}, mode=0o400)
    assert not (tmpfs_dir / "out" / "a").exists()
    assert writer.write_files({}, mode=0o400) == []
    assert writer.write_files({"a/x": b"1", "a/y": b"2"}, mode=0o400) == ["a/x", "a/y"]
    assert writer.write_files({"a/x": b"1", "a/y": b"3"}, mode=0o400) == ["a/y"]
    assert writer.write_files({"top": b"1"}, mode=0o400) == ["top"]


def _spec(target: str, **kw: object) -> SecretSpec:
    return SecretSpec(path=target, target=target, **kw)  # type: ignore[arg-type]


def _fields(count: int, value: str) -> SecretData:
    return SecretData(fields={f"k{i}": value for i in range(count)}, raw="{}", version=value)


def test_a_secret_with_thousands_of_fields_cannot_starve_another(tmpfs_dir: Path) -> None:
    """The review's attack: 5,000 fields on a 4,096-inode mount, then another team rotates."""
    with small_tmpfs(tmpfs_dir / "mnt", "size=16m,nr_inodes=4096") as mnt:
        writer = SecretWriter(mnt / "out")
        writer.prepare()
        hostile, team = SecretState(path="x", target="x"), SecretState(path="t", target="t")
        assert refresh(_spec("x"), _fields(3, "1"), writer, hostile, now=0).ok
        assert refresh(_spec("t"), _fields(8, "1"), writer, team, now=0).ok
        before = snapshot(mnt / "out")
        free = os.statvfs(mnt).f_ffree

        flood = refresh(_spec("x"), _fields(5000, "2"), writer, hostile, now=60)
        assert not flood.ok and "5000 fields, more than max_fields = 128" in (flood.error or "")
        assert snapshot(mnt / "out") == before and os.statvfs(mnt).f_ffree == free
        assert hostile.files == [f"x/k{i}" for i in range(3)] and hostile.version == "1"

        # Even with the limit raised past the mount, the failed attempt takes nothing with it.
        unlimited = _spec("x", max_fields=100_000, max_bytes=1 << 30)
        flood = refresh(unlimited, _fields(5000, "3"), writer, hostile, now=120)
        assert not flood.ok and "No space left on device" in (flood.error or "")
        assert snapshot(mnt / "out") == before and os.statvfs(mnt).f_ffree == free

        rotated = refresh(_spec("t"), _fields(8, "2"), writer, team, now=180)
        assert rotated.ok and rotated.changed
        after = snapshot(mnt / "out")
        assert all(after[f"t/k{i}"][1] == b"2" for i in range(8))
        assert all(after[f"x/k{i}"] == before[f"x/k{i}"] for i in range(3))
