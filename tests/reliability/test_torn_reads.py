"""Torn reads: readers hammer files while the writer and the whole agent rewrite them.

Every value written is self-describing (``<n|xxxx|n>`` with a length that depends on ``n``), so a
reader can tell a whole value from a partial, empty or mixed one without knowing the schedule.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from fake_sources import FakeSource, agent_config, spec
from reliability_kit import record
from secrets_agent.daemon.agent import Agent
from secrets_agent.notify import Notifier
from secrets_agent.writer.writer import SecretWriter

_WHOLE = re.compile(rb"<(\d+)\|(x*)\|(\d+)>")


def value(n: int) -> bytes:
    return b"<%d|" % n + b"x" * (n * 37 % 6000) + b"|%d>" % n


def is_whole(data: bytes) -> bool:
    m = _WHOLE.fullmatch(data)
    return bool(m and m.group(1) == m.group(3) and value(int(m.group(1))) == data)


_READER = r"""
import re, sys, time
paths, seconds = sys.argv[1].split(","), float(sys.argv[2])
pat = re.compile(rb"<(\d+)\|(x*)\|(\d+)>")
reads = bad = missing = 0
end = time.monotonic() + seconds
while time.monotonic() < end:
    for p in paths:
        try:
            with open(p, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            missing += 1
            continue
        reads += 1
        m = pat.fullmatch(data)
        n = int(m.group(1)) if m else -1
        if not m or m.group(1) != m.group(3) or len(m.group(2)) != n * 37 % 6000:
            bad += 1
print(reads, bad, missing)
"""


class Hammer:
    """Reader threads that read ``paths`` in a loop and count bad results."""

    def __init__(self, paths: list[Path], threads: int = 4) -> None:
        self.paths = paths
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.reads = self.bad = self.missing = 0
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]

    def _run(self) -> None:
        reads = bad = missing = 0
        while not self.stop.is_set():
            for p in self.paths:
                try:
                    data = p.read_bytes()
                except FileNotFoundError:
                    missing += 1
                    continue
                reads += 1
                if not is_whole(data):
                    bad += 1
        with self.lock:
            self.reads += reads
            self.bad += bad
            self.missing += missing

    def __enter__(self) -> Hammer:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for t in self._threads:
            t.join()


def _reader_process(paths: list[Path], seconds: float) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", _READER, ",".join(map(str, paths)), str(seconds)],
        stdout=subprocess.PIPE,
        text=True,
    )


def _writer_rounds(writes: int, out: Path) -> None:
    writer = SecretWriter(out)
    writer.prepare()
    names = ["a", "dir/b", "dir/sub/c"]
    for name in names:
        writer.write(name, value(0), mode=0o400)
    paths = [out / n for n in names]
    proc = _reader_process(paths, 600)
    try:
        with Hammer(paths) as hammer:
            for i in range(1, writes + 1):
                writer.write(names[i % 3], value(i), mode=0o400)
        proc.terminate()
    finally:
        stdout, _ = proc.communicate(timeout=30)
    assert proc.returncode is not None
    lost_proc = 0
    reads_proc = 0
    if stdout.strip():
        reads_proc, bad_proc, missing_proc = map(int, stdout.split())
        lost_proc = bad_proc + missing_proc
    record(
        "torn reads: SecretWriter rewrites",
        tried=writes,
        lost=hammer.bad + hammer.missing + lost_proc,
        unit="writes",
        reads=hammer.reads + reads_proc,
    )
    assert hammer.bad == hammer.missing == 0
    assert hammer.reads > 0


def test_writer_rewrites_never_tear(out_dir: Path) -> None:
    _writer_rounds(3000, out_dir)


@pytest.mark.soak
@pytest.mark.timeout(1800)
def test_writer_rewrites_never_tear_soak(out_dir: Path) -> None:
    _writer_rounds(100_000, out_dir)


class RotatingSource(FakeSource):
    """Every fetch returns a new version with new values for every field."""

    def __init__(self) -> None:
        super().__init__()
        self.n = 0

    def fetch_many(self, paths, **kw):  # type: ignore[no-untyped-def]
        with self.lock:
            for p in paths:
                self.n += 1
                self.secrets[p] = _data(self.n)
        return super().fetch_many(paths, **kw)


def _data(n: int):  # type: ignore[no-untyped-def]
    from secrets_agent.sources.result import SecretData

    fields = {"one": value(n).decode(), "two": value(n + 1).decode()}
    return SecretData(fields=fields, raw="{}", version=str(n))


def _agent_rounds(seconds: float, out: Path) -> None:
    source = RotatingSource()
    specs = [spec(f"s{i}", interval=0.02) for i in range(4)]
    agent = Agent(agent_config(out, specs), source=source, notifier=Notifier(None))
    assert agent.sync_once().ok
    paths = [out / f"s{i}" / f for i in range(4) for f in ("one", "two")]
    proc = _reader_process(paths, seconds)
    with Hammer(paths, threads=3) as hammer:
        agent.start()
        try:
            time.sleep(seconds)
        finally:
            agent.stop()
    stdout, _ = proc.communicate(timeout=60)
    reads_proc, bad_proc, missing_proc = map(int, stdout.split())
    rotations = source.n
    status = (out / ".status.json").read_bytes()
    lost = hammer.bad + hammer.missing + bad_proc + missing_proc
    record(
        "torn reads: whole Agent, 20 ms refresh",
        tried=rotations * 2,
        lost=lost,
        unit="writes",
        reads=hammer.reads + reads_proc,
    )
    assert lost == 0
    assert rotations > 100, rotations
    assert b"last_error" in status
    assert not [n for n in os.listdir(out) if n.startswith(".tmp-")]


def test_agent_rotations_never_tear(out_dir: Path) -> None:
    _agent_rounds(3.0, out_dir)


@pytest.mark.soak
@pytest.mark.timeout(1800)
def test_agent_rotations_never_tear_soak(out_dir: Path) -> None:
    _agent_rounds(120.0, out_dir)
