"""Path attacks on the writer: traversal, absolute targets, planted symlinks, hard links, FIFOs,
foreign-owned subdirectories, symlinked and world-writable output directories."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from reliability_kit import record
from secrets_agent.writer.writer import OutputDirError, SecretWriter, WriteError

NOBODY = 65534


@pytest.fixture
def setup(tmpfs_dir: Path) -> tuple[SecretWriter, Path, Path]:
    out = tmpfs_dir / "out"
    outside = tmpfs_dir / "outside"
    outside.mkdir()
    (outside / "victim").write_bytes(b"precious")
    writer = SecretWriter(out)
    writer.prepare()
    return writer, out, outside


def test_path_attacks(setup: tuple[SecretWriter, Path, Path]) -> None:
    writer, out, outside = setup
    victim = outside / "victim"
    attacks = 0

    for bad in ["../outside/victim", "/etc/passwd", "a/../../x", "a//b", ".status.json", "a/.x"]:
        with pytest.raises(ValueError):
            writer.write(bad, b"s", mode=0o400)
        attacks += 1

    # A symlink planted at the target: replaced by a regular file, never followed.
    (out / "link").symlink_to(victim)
    assert writer.write("link", b"secret", mode=0o400)
    assert not (out / "link").is_symlink() and (out / "link").read_bytes() == b"secret"
    attacks += 1

    # A symlinked directory inside output_dir (or below it): refused.
    (out / "dirlink").symlink_to(outside)
    with pytest.raises(WriteError, match="symlink"):
        writer.write("dirlink/victim", b"secret", mode=0o400)
    (out / "real" / "deeper").mkdir(parents=True)
    (out / "real" / "deeper" / "hop").symlink_to(outside)
    with pytest.raises(WriteError, match="symlink"):
        writer.write("real/deeper/hop/victim", b"secret", mode=0o400)
    attacks += 2

    # A hard link to an outside file at the target: the link is replaced, not written through.
    os.link(victim, out / "hard")
    assert writer.write("hard", b"secret", mode=0o400)
    assert os.stat(out / "hard").st_ino != os.stat(victim).st_ino
    attacks += 1

    # A FIFO at the target must not block the writer.
    os.mkfifo(out / "fifo")
    done = threading.Event()
    threading.Thread(
        target=lambda: (writer.write("fifo", b"secret", mode=0o400), done.set()), daemon=True
    ).start()
    assert done.wait(5), "the writer blocked on a FIFO"
    assert (out / "fifo").read_bytes() == b"secret"
    attacks += 1

    # A subdirectory owned by another user: refused (they could swap entries in it).
    (out / "foreign").mkdir()
    os.chown(out / "foreign", NOBODY, NOBODY)
    with pytest.raises(WriteError, match="owned by uid"):
        writer.write("foreign/x", b"secret", mode=0o400)
    os.chmod(out / "real", 0o777)  # noqa: S103
    with pytest.raises(WriteError, match="world-writable"):
        writer.write("real/x", b"secret", mode=0o400)
    attacks += 2

    # Removing never follows links either.
    with pytest.raises(WriteError):
        writer.remove("dirlink/victim")
    attacks += 1

    assert victim.read_bytes() == b"precious"
    assert sorted(os.listdir(outside)) == ["victim"]
    record("path attacks: writer", tried=attacks, lost=0, unit="attacks")


def test_unsafe_output_dirs(tmpfs_dir: Path) -> None:
    real = tmpfs_dir / "real"
    real.mkdir(mode=0o700)
    link = tmpfs_dir / "link"
    link.symlink_to(real)
    with pytest.raises(OutputDirError, match="symlink"):
        SecretWriter(link).prepare()
    wide = tmpfs_dir / "wide"
    wide.mkdir()
    os.chmod(wide, 0o777)  # noqa: S103
    with pytest.raises(OutputDirError, match="world-writable"):
        SecretWriter(wide).prepare()
    foreign = tmpfs_dir / "foreign"
    foreign.mkdir(mode=0o700)
    os.chown(foreign, NOBODY, NOBODY)
    with pytest.raises(OutputDirError, match="owned by uid"):
        SecretWriter(foreign).prepare()
    # After prepare(), the directory is swapped for a symlink: the next write refuses.
    out = tmpfs_dir / "out"
    writer = SecretWriter(out)
    writer.prepare()
    out.rename(tmpfs_dir / "moved")
    out.symlink_to(real)
    with pytest.raises(WriteError, match="symlink"):
        writer.write("x", b"secret", mode=0o400)
    assert os.listdir(real) == []
    record("path attacks: unsafe output_dir", tried=4, lost=0, unit="attacks")


def test_symlink_above_output_dir_is_followed(tmpfs_dir: Path) -> None:
    """Documented limit: only output_dir itself and what is below it are checked. A symlink
    in a parent directory is followed, so output_dir's parents must be writable only by root
    or the agent (as /run is). This test pins that behaviour down so the docs stay true."""
    elsewhere = tmpfs_dir / "elsewhere"
    (elsewhere / "out").mkdir(parents=True, mode=0o700)
    parent_link = tmpfs_dir / "parent"
    parent_link.symlink_to(elsewhere)
    writer = SecretWriter(parent_link / "out")
    writer.prepare()
    writer.write("x", b"secret", mode=0o400)
    assert (elsewhere / "out" / "x").read_bytes() == b"secret"
    record("path attacks: symlink above output_dir (documented)", tried=1, lost=0, unit="cases")
