"""output_dir and the directories below it against a group member (uid 65534 with a shared gid):
group- or world-writable directories are refused, and dir_mode is applied to existing ones."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest
from secrets_agent.writer import OutputDirError, SecretWriter, WriteError

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to act as uid 65534")

NOBODY = 65534
SHARED_GID = 4242  # a group the agent's files may be shared with; uid 65534 is a member


def as_group_member(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``sh -c script`` as uid 65534 with ``SHARED_GID`` among its groups."""
    return subprocess.run(
        ["/bin/sh", "-c", script, "attacker", *args],
        user=NOBODY,
        group=NOBODY,
        extra_groups=[SHARED_GID],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def replace_attempts(password: Path) -> list[subprocess.CompletedProcess[str]]:
    """Every way a group member might swap in a value of their own."""
    scripts = [
        'printf evil > "$1"',
        'rm -f "$1"; printf evil > "$1"',
        'printf evil > "$1.new" && mv -f "$1.new" "$1"',
        'd=$(dirname "$1"); mv "$d" "$d.old" && mkdir "$d" && printf evil > "$1"',
        'ln -sf /etc/hostname "$1"',
    ]
    return [as_group_member(script, str(password)) for script in scripts]


@pytest.fixture
def base(tmpfs_dir: Path) -> Path:
    tmpfs_dir.chmod(0o711)  # the attacker may reach output_dir; its own mode must do the work
    return tmpfs_dir


def test_a_group_writable_output_dir_is_refused(base: Path) -> None:
    out = base / "out"
    out.mkdir()
    os.chown(out, 0, SHARED_GID)
    out.chmod(0o770)
    # The attack the directory allows: a group member plants the file a reader would serve.
    planted = as_group_member('mkdir "$1/db" && printf evil > "$1/db/password"', str(out))
    assert planted.returncode == 0, planted.stderr
    writer = SecretWriter(out, dir_mode=0o750)
    with pytest.raises(OutputDirError) as info:
        writer.prepare()
    assert str(info.value) == (
        f"{out}: is group-writable (a group member could replace the files in it);"
        " refusing to use it"
    )
    with pytest.raises(WriteError, match="group-writable"):
        writer.write("app/password", b"good", mode=0o440, gid=SHARED_GID)
    assert stat.S_IMODE(out.stat().st_mode) == 0o770  # refused, not silently changed
    assert not (out / "app").exists()


def test_output_dir_turning_group_writable_stops_writes(base: Path) -> None:
    out = base / "out"
    writer = SecretWriter(out, dir_mode=0o750)
    writer.prepare()
    writer.write("db/password", b"good", mode=0o440, gid=SHARED_GID)
    out.chmod(0o770)
    with pytest.raises(WriteError, match=r"output directory unusable: .* is group-writable"):
        writer.write("db/password", b"next", mode=0o440, gid=SHARED_GID)
    out.chmod(0o750)
    (out / "db").chmod(0o770)  # a subdirectory the same
    with pytest.raises(WriteError, match="directory 'db' is group-writable"):
        writer.write("db/password", b"next", mode=0o440, gid=SHARED_GID)
    (out / "db").chmod(0o750)
    assert writer.write("db/password", b"next", mode=0o440, gid=SHARED_GID)
    assert (out / "db" / "password").read_bytes() == b"next"


def test_dir_mode_is_applied_to_existing_directories(base: Path) -> None:
    out = base / "out"
    out.mkdir()
    os.chown(out, 0, SHARED_GID)
    out.chmod(0o2755)  # looser than dir_mode, and setgid (kept)
    (out / "db").mkdir()
    (out / "db").chmod(0o755)
    (out / "db" / "password").write_bytes(b"old")
    listed = as_group_member('ls "$1"', str(out / "db"))
    assert listed.returncode == 0 and "password" in listed.stdout
    writer = SecretWriter(out, dir_mode=0o750)
    writer.prepare()
    assert stat.S_IMODE(out.stat().st_mode) == 0o2750
    writer.write("db/password", b"good", mode=0o440, gid=SHARED_GID)
    assert stat.S_IMODE((out / "db").stat().st_mode) == 0o750
    # Others (not in the group) can no longer enter; the group member can read, not replace.
    other = subprocess.run(
        ["/bin/ls", str(out / "db")], user=NOBODY, group=NOBODY, extra_groups=[],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert other.returncode != 0
    read = as_group_member('cat "$1"', str(out / "db" / "password"))
    assert read.returncode == 0 and read.stdout == "good"
    attempts = replace_attempts(out / "db" / "password")
    assert all(attempt.returncode != 0 for attempt in attempts)
    assert (out / "db" / "password").read_bytes() == b"good"
    assert not (out / "db.old").exists()
    assert sorted(os.listdir(out / "db")) == ["password"]


def test_a_directory_the_agent_does_not_own_keeps_its_mode(base: Path) -> None:
    from secrets_agent.writer.directories import apply_mode

    shared = base / "shared"
    shared.mkdir(mode=0o755)
    fd = os.open(shared, os.O_RDONLY | os.O_DIRECTORY)
    try:
        apply_mode(fd, os.fstat(fd), 0o700, euid=NOBODY)  # an agent running as another user
        assert stat.S_IMODE(shared.stat().st_mode) == 0o755
        apply_mode(fd, os.fstat(fd), 0o700, euid=0)
        assert stat.S_IMODE(shared.stat().st_mode) == 0o700
    finally:
        os.close(fd)
