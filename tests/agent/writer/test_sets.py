"""A secret's directory of fields is replaced as a whole (real tmpfs, real reader)."""

from __future__ import annotations

import os
import stat
import threading
import time
from pathlib import Path

import pytest
from secrets_agent.writer import SecretWriter, WriteError

DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW


@pytest.fixture
def out(tmpfs_dir: Path) -> Path:
    return tmpfs_dir / "out"


@pytest.fixture
def writer(out: Path) -> SecretWriter:
    w = SecretWriter(out)
    w.prepare()
    return w


def fields(version: str, *names: str) -> dict[str, bytes]:
    return {f"db/{name}": f"{name}-{version}".encode() for name in names or ("user", "pass")}


def read_through(fd: int, *names: str) -> list[bytes]:
    result = []
    for name in names:
        file = os.open(name, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=fd)
        try:
            result.append(os.read(file, 1 << 16))
        finally:
            os.close(file)
    return result


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_rotation_swaps_in_a_new_directory_and_removes_the_old_set_a_moment_later(
    out: Path,
) -> None:
    clock = Clock()
    writer = SecretWriter(out, timer=clock)
    writer.prepare()
    assert writer.write_files(fields("1"), mode=0o440) == ["db/pass", "db/user"]
    first = (out / "db").stat().st_ino
    held = os.open(out / "db", DIR_FLAGS)
    try:
        assert writer.write_files(fields("2"), mode=0o440) == ["db/pass", "db/user"]
        assert (out / "db").stat().st_ino != first  # a new directory, not files renamed in
        # a reader that had entered the old directory still reads the whole old set
        assert read_through(held, "user", "pass") == [b"user-1", b"pass-1"]
        clock.now += 1.0
        writer.write_dotfile(".status.json", b"{}")
        assert read_through(held, "user", "pass") == [b"user-1", b"pass-1"]
        clock.now += 1.5
        writer.write_dotfile(".status.json", b"{}")  # any later operation removes it
        assert os.listdir(held) == []  # the old set is gone from memory, not left behind
    finally:
        os.close(held)
    assert (out / "db" / "user").read_bytes() == b"user-2"
    assert sorted(p.name for p in out.iterdir()) == [".status.json", "db"]
    writer.write_files(fields("3"), mode=0o440)
    writer.close()  # and close removes every old set at once
    assert sorted(p.name for p in out.iterdir()) == [".status.json", "db"]


def test_one_changed_field_still_switches_the_whole_set(writer: SecretWriter, out: Path) -> None:
    writer.write_files(fields("1"), mode=0o400)
    ino = (out / "db").stat().st_ino
    changed = {"db/user": b"user-1", "db/pass": b"pass-2"}
    assert writer.write_files(changed, mode=0o400) == ["db/pass"]
    assert (out / "db").stat().st_ino != ino
    assert (out / "db" / "user").read_bytes() == b"user-1"


def test_an_unchanged_set_is_not_rewritten(writer: SecretWriter, out: Path) -> None:
    writer.write_files(fields("1"), mode=0o400)
    before = {p.name: p.stat().st_ino for p in (out / "db").iterdir()}
    ino = (out / "db").stat().st_ino
    assert writer.write_files(fields("1"), mode=0o400) == []
    assert (out / "db").stat().st_ino == ino
    assert {p.name: p.stat().st_ino for p in (out / "db").iterdir()} == before
    # a different mode is a change: the set is rebuilt with it
    assert writer.write_files(fields("1"), mode=0o440) == ["db/pass", "db/user"]
    assert stat.S_IMODE((out / "db" / "pass").stat().st_mode) == 0o440


def test_fields_the_agent_wrote_before_leave_with_the_old_set(
    writer: SecretWriter, out: Path
) -> None:
    writer.write_files(fields("1", "user", "pass", "host"), mode=0o400)
    old = sorted(fields("1", "user", "pass", "host"))
    assert writer.write_files(fields("1"), mode=0o400, old=old) == ["db/host"]
    assert sorted(p.name for p in (out / "db").iterdir()) == ["pass", "user"]


def test_a_file_the_agent_did_not_write_is_kept_and_files_are_replaced_one_by_one(
    writer: SecretWriter, out: Path
) -> None:
    writer.write_files(fields("1"), mode=0o400)
    (out / "db" / "note").write_bytes(b"mine")
    ino = (out / "db").stat().st_ino
    written = writer.write_files(fields("2"), mode=0o400, old=sorted(fields("1")))
    assert sorted(written) == ["db/pass", "db/user"]
    assert (out / "db").stat().st_ino == ino  # not swapped: that would lose "note"
    assert (out / "db" / "note").read_bytes() == b"mine"
    assert (out / "db" / "pass").read_bytes() == b"pass-2"
    # unknown owner of a stale field (old not given): kept, the caller removes what it wrote
    assert writer.write_files(fields("3", "user"), mode=0o400) == ["db/user"]


def test_modes_owner_group_and_setgid_carry_over(writer: SecretWriter, out: Path) -> None:
    gid = 65534 if os.geteuid() == 0 else os.getegid()
    writer.write_files(fields("1"), mode=0o440, gid=gid)
    os.chmod(out / "db", 0o2750)  # noqa: S103 - an operator's setgid directory
    writer2 = SecretWriter(out, dir_mode=0o750)
    writer2.prepare()
    writer2.write_files(fields("2"), mode=0o440, gid=gid)
    st = (out / "db").stat()
    assert stat.S_IMODE(st.st_mode) == 0o2750 and st.st_gid == gid
    for name in ("user", "pass"):
        fst = (out / "db" / name).stat()
        assert stat.S_IMODE(fst.st_mode) == 0o440 and fst.st_gid == gid
        assert fst.st_uid == os.geteuid()


def test_a_single_write_after_a_swap_lands_in_the_new_directory(
    writer: SecretWriter, out: Path
) -> None:
    writer.write("db/user", b"x", mode=0o400)  # keeps a descriptor of db/
    writer.write_files(fields("2"), mode=0o400)  # swaps db/: that descriptor is stale
    assert writer.write("db/user", b"y", mode=0o400)
    assert (out / "db" / "user").read_bytes() == b"y"
    assert writer.remove("db/user") and writer.remove("db/pass")
    assert not (out / "db").exists()


def test_a_symlink_in_place_of_the_directory_is_refused(
    writer: SecretWriter, out: Path, tmpfs_dir: Path
) -> None:
    elsewhere = tmpfs_dir / "elsewhere"
    elsewhere.mkdir()
    (out / "db").symlink_to(elsewhere)
    with pytest.raises(WriteError, match="refusing"):
        writer.write_files(fields("1"), mode=0o400)
    assert list(elsewhere.iterdir()) == []
    assert (out / "db").is_symlink()


def test_a_crash_leaves_one_set_and_a_temp_directory_removed_at_start(out: Path) -> None:
    writer = SecretWriter(out)
    writer.prepare()
    writer.write_files(fields("1"), mode=0o400)
    aside = out / ".tmp-0123456789ab"  # a set built aside, or an old one swapped out
    aside.mkdir(mode=0o700)
    (aside / "user").write_bytes(b"half")
    (out / "db" / ".tmp-feedbeef0000").write_bytes(b"x")
    (out / ".tmp-link").symlink_to(out / "db")
    SecretWriter(out).prepare()
    assert sorted(p.name for p in out.iterdir()) == ["db"]
    assert sorted(p.name for p in (out / "db").iterdir()) == ["pass", "user"]


def test_the_reader_sees_every_rotation_of_a_swapped_set(
    writer: SecretWriter, out: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real reader, its cache TTL an hour: only the watcher's events can show a rotation.
    Its watchdog observer must survive the switches and stop cleanly (no error in its threads,
    which a plain exchange of two directories causes)."""
    pytest.importorskip("watchdog")
    from libs.secrets import FileSecretManager

    failures: list[str] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: failures.append(repr(args.exc_value)))

    writer.write_files(fields("1"), mode=0o400)
    with FileSecretManager(out, ttl_seconds=3600) as manager:
        assert manager.get_secret("db/user") == "user-1"
        assert manager.get_secret("db/pass") == "pass-1"
        for version in map(str, range(2, 12)):
            writer.write_files(fields(version), mode=0o400)
            deadline = time.monotonic() + 10
            want = [f"user-{version}", f"pass-{version}"]
            while [manager.get_secret("db/user"), manager.get_secret("db/pass")] != want:
                assert time.monotonic() < deadline, f"rotation {version} not seen"
                time.sleep(0.01)
        writer.close()  # the old sets are removed: their watches go
        time.sleep(0.5)
        assert manager.watching  # its observer survived every switch
    assert failures == []
