"""Disk: a full tmpfs and an exhausted inode table. The write fails cleanly, the old file stays,
no temp file is left, and the agent says why (status file where there is room for it, the log
and the metrics file always)."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_sources import FakeSource, agent_config, spec
from reliability_kit import record, snapshot, temp_files
from secrets_agent.daemon.agent import Agent
from secrets_agent.notify import Notifier
from secrets_agent.status import read_status
from secrets_agent.writer.writer import SecretWriter, WriteError


@contextlib.contextmanager
def tiny_tmpfs(where: Path, options: str) -> Iterator[Path]:
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


def _agent(out: Path, source: FakeSource, metrics: Path) -> Agent:
    return Agent(
        agent_config(out, [spec("big"), spec("small")], metrics_file=metrics),
        source=source,
        notifier=Notifier(None),
    )


def test_tmpfs_full(tmpfs_dir: Path) -> None:
    with tiny_tmpfs(tmpfs_dir / "mnt", "size=64k") as mnt:
        out = mnt / "out"
        source = FakeSource()
        source.set("big", "1", {"blob": "a" * 30_000})
        source.set("small", "1", {"k": "v1"})
        agent = _agent(out, source, tmpfs_dir / "metrics.prom")
        assert agent.sync_once().ok
        before = snapshot(out)
        source.set("big", "2", {"blob": "b" * 40_000})  # old + new do not fit in 64 KiB
        source.set("small", "2", {"k": "v2"})
        report = agent.sync_once()
        assert set(report.failed) == {"big"}
        assert "No space left on device" in report.failed["big"]
        after = snapshot(out)
        assert after["big/blob"] == before["big/blob"]  # same inode, same bytes
        assert after["small/k"][1] == b"v2"  # the secret that fits is still updated
        assert temp_files(out) == []
        entry = {e["target"]: e for e in read_status(out)["secrets"]}["big"]  # type: ignore[union-attr]
        assert "No space left on device" in entry["last_error"]
        # Room again: the next refresh succeeds.
        source.set("small", "3", {"k": ""})
        (out / "small" / "k").unlink()
        source.set("big", "3", {"blob": "c" * 20_000})
        assert agent.sync_once().ok
        agent.stop()
    record("disk: tmpfs full (64 KiB)", tried=1, lost=0, unit="ENOSPC")


def test_inode_exhaustion(tmpfs_dir: Path) -> None:
    metrics = tmpfs_dir / "metrics.prom"
    with tiny_tmpfs(tmpfs_dir / "mnt", "size=1m,nr_inodes=16") as mnt:
        out = mnt / "out"
        source = FakeSource()
        source.set("big", "1", {"x": "1"})
        source.set("small", "1", {"k": "v1"})
        agent = _agent(out, source, metrics)
        assert agent.sync_once().ok
        before = snapshot(out)
        fillers = []
        for i in range(100):  # use up every free inode
            try:
                path = mnt / f"filler{i}"
                path.touch()
                fillers.append(path)
            except OSError:
                break
        source.set("big", "2", {"x": "2"})
        report = agent.sync_once()
        assert not report.ok and "No space left on device" in report.failed["big"]
        assert snapshot(out) == before
        assert temp_files(out) == []
        # The writer itself, directly: a clean WriteError, the old file intact.
        with pytest.raises(WriteError, match="No space left"):
            SecretWriter(out).write("small/k", b"other", mode=0o400)
        assert (out / "small" / "k").read_bytes() == b"v1"
        # With no inode left the status file cannot be replaced either; the metrics file
        # (outside output_dir) and the log carry the failure.
        text = metrics.read_text()
        assert 'secrets_agent_consecutive_failures{target="big"} 1' in text
        fillers[0].unlink()
        fillers[1].unlink()
        assert agent.sync_once().ok
        assert (out / "big" / "x").read_bytes() == b"2"
        agent.stop()
    record("disk: inode exhaustion (nr_inodes=16)", tried=2, lost=0, unit="ENOSPC")
