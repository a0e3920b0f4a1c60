"""BatchRefresher: chunked syncs, and one-by-one units that stop when the backend goes down."""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path

import pytest
from fake_sources import ScriptedSource, batch_refresher, spec
from secrets_agent.daemon import batch
from secrets_agent.daemon.batch import BatchRefresher, SyncReport
from secrets_agent.daemon.table import SecretTable
from secrets_agent.sources.result import SecretData, SourceError

NOW = 1_000.0


class GoesDown(ScriptedSource):
    """Answers ``answers`` paths, then is sealed; remembers the size of every call."""

    def __init__(self, answers: int) -> None:
        super().__init__()
        self.answers = answers
        self.sizes: list[int] = []

    def fetch_many(
        self, paths: Sequence[str], *, version_stage: str | None = None
    ) -> dict[str, SecretData | SourceError]:
        self.sizes.append(len(paths))
        if sum(self.sizes) > self.answers:
            self.mode = "down"
        return super().fetch_many(paths)


def _refresher(
    tmpfs_dir: Path, n: int, source: ScriptedSource
) -> tuple[BatchRefresher, SecretTable]:
    table = SecretTable([spec(f"s{i:04d}", 60.0) for i in range(n)])
    return batch_refresher(table, source, tmpfs_dir / "out", clock=lambda: NOW), table


def test_a_unit_stops_reading_when_the_backend_goes_down(tmpfs_dir: Path) -> None:
    source = GoesDown(answers=3)
    refresher, table = _refresher(tmpfs_dir, 10, source)
    specs = table.specs()
    table.take_due(NOW, random.Random(1))  # in flight, as the runner hands them out
    report, rest = refresher.run_each(specs)
    assert source.sizes == [1, 1, 1, 1]  # three answered, the fourth found it sealed
    assert report.written == 3 and list(report.failed) == ["s0003"]
    assert [s.target for s in rest] == [f"s{i:04d}" for i in range(4, 10)]
    assert not table.gate_open()
    table.give_back(rest)
    # The next wake-up holds them for the probe instead of reading them.
    assert table.take_due(NOW + 0.1, random.Random(1)) == []
    assert source.sizes == [1, 1, 1, 1]
    held = table.gate().held
    assert set(held) == {f"s{i:04d}" for i in range(4, 10)} | {"s0003"}


def test_a_sync_reads_in_chunks_and_adds_up(
    tmpfs_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(batch, "SYNC_CHUNK", 4)
    source = GoesDown(answers=1_000)
    refresher, table = _refresher(tmpfs_dir, 10, source)
    report = refresher.sync(table.specs())
    assert source.sizes == [4, 4, 2]
    assert report == SyncReport(ok=True, written=10, unchanged=0, failed={})
    assert len(list((tmpfs_dir / "out").glob("s*"))) == 10


def test_a_sync_reports_every_secret_of_every_chunk(
    tmpfs_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(batch, "SYNC_CHUNK", 4)
    source = GoesDown(answers=6)
    refresher, table = _refresher(tmpfs_dir, 10, source)
    report = refresher.sync(table.specs())
    assert not report.ok and report.written == 4
    assert sorted(report.failed) == [f"s{i:04d}" for i in range(4, 10)]
