"""Permissions: uid 65534 cannot read secret files, the status file or temp files (even with
every directory opened for traversal), and files never have a wider mode than the final one,
from the moment they are created."""

from __future__ import annotations

import ctypes
import os
import stat
import struct
import threading
from pathlib import Path

import pytest
from fake_sources import FakeSource, agent_config, spec
from reliability_kit import record, run_as_nobody
from secrets_agent.daemon.agent import Agent
from secrets_agent.notify import Notifier
from secrets_agent.writer.writer import SecretWriter

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to act as uid 65534")


def test_other_user_reads_nothing(tmpfs_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmpfs_dir / "out"
    source = FakeSource()
    source.set("app", "1", {"password": "p1", "user": "u1"})
    agent = Agent(
        agent_config(out, [spec("app", mode=0o440)]), source=source, notifier=Notifier(None)
    )
    assert agent.sync_once().ok
    for d in (tmpfs_dir, out, out / "app"):
        os.chmod(d, 0o711)  # noqa: S103 - traversal only: the file modes must do the work

    from secrets_agent.writer import sets

    real_exchange = sets.exchange
    reached, release = threading.Event(), threading.Event()

    def paused(*args: object, **kwargs: object) -> None:
        reached.set()
        release.wait(10)
        real_exchange(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(sets, "exchange", paused)
    source.set("app", "2", {"password": "p2", "user": "u2"})
    worker = threading.Thread(target=agent.sync_once, daemon=True)
    worker.start()
    assert reached.wait(10)
    # the new set, staged twice (the new directory and the copy the switch passes through)
    staged = [d for d in out.iterdir() if d.name.startswith(".tmp-") and not d.is_symlink()]
    temps = [p for d in staged for p in d.iterdir()]
    targets = [*temps, out / "app" / "password", out / "app" / "user", out / ".status.json"]
    denied = 0
    for path in targets:
        result = run_as_nobody(["cat", str(path)])
        assert result.returncode != 0 and result.stdout == b"", path
        denied += 1
    release.set()
    worker.join(10)
    monkeypatch.setattr(sets, "exchange", real_exchange)
    agent.stop()
    assert len(temps) == 4  # both fields, twice, are staged before the switch
    record(
        "permissions: uid 65534 reads", tried=denied, lost=0, unit="files", temp_files=len(temps)
    )


IN_CREATE = 0x100


def _inotify(directory: Path) -> int:
    libc = ctypes.CDLL(None, use_errno=True)
    fd = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
    assert fd >= 0
    assert libc.inotify_add_watch(fd, str(directory).encode(), IN_CREATE) >= 0
    return int(fd)


def _names(fd: int) -> list[str]:
    try:
        data = os.read(fd, 65536)
    except BlockingIOError:
        return []
    names, offset = [], 0
    while offset < len(data):
        _wd, _mask, _cookie, length = struct.unpack_from("iIII", data, offset)
        raw = data[offset + 16 : offset + 16 + length]
        names.append(raw.split(b"\0", 1)[0].decode())
        offset += 16 + length
    return names


def _mode_rounds(out: Path, writes: int) -> None:
    writer = SecretWriter(out)
    writer.prepare()
    fd = _inotify(out)
    seen = wider = 0
    stop = threading.Event()

    def watch() -> None:
        nonlocal seen, wider
        while not stop.is_set():
            for name in _names(fd):
                if not name.startswith(".tmp-"):
                    continue
                try:
                    st = os.lstat(out / name)
                except FileNotFoundError:
                    continue
                seen += 1
                if stat.S_IMODE(st.st_mode) & ~0o440:
                    wider += 1

    old_umask = os.umask(0)  # the writer must not depend on the umask
    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        for i in range(writes):
            writer.write(
                f"f{i % 5}", b"v" * (i % 50 + 1) + str(i).encode(), mode=0o440 if i % 2 else 0o400
            )
    finally:
        stop.set()
        watcher.join()
        os.umask(old_umask)
        os.close(fd)
    record(
        "permissions: temp file mode from creation (inotify)",
        tried=writes,
        lost=wider,
        unit="writes",
        temps_observed=seen,
    )
    assert wider == 0
    assert seen > 0


def test_mode_from_first_byte(tmpfs_dir: Path) -> None:
    _mode_rounds(tmpfs_dir / "out", 3000)


@pytest.mark.soak
@pytest.mark.timeout(1800)
def test_mode_from_first_byte_soak(tmpfs_dir: Path) -> None:
    _mode_rounds(tmpfs_dir / "out", 100_000)
