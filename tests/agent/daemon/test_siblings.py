"""Secrets of one directory settled together: a confirmation takes the rest of its directory
along (``daemon.siblings``, ``SecretTable.take_along``, ``BatchRefresher.run_each``)."""

from __future__ import annotations

import random
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import pytest
from fake_sources import FakeSource, batch_refresher, spec
from secrets_agent.config.load import SecretSpec
from secrets_agent.daemon.batch import BatchRefresher
from secrets_agent.daemon.confirm import EVIDENCE_SHARE
from secrets_agent.daemon.siblings import Siblings
from secrets_agent.daemon.state import SecretState
from secrets_agent.daemon.table import SecretTable
from secrets_agent.sources.result import BackendUnavailableError, SecretData, SourceError

INTERVAL = 100.0


class Stamped(FakeSource):
    """Serves stamped secrets; confirms every path it is asked about except ``changed``."""

    def __init__(self) -> None:
        super().__init__()
        self.changed: set[str] = set()
        self.reads: list[str] = []

    def put(self, path: str, value: str) -> None:
        self.set(path, password=value)
        data = self.secrets[path]
        assert isinstance(data, SecretData)
        data.stamp = hash((path, value))

    def fetch_many(
        self, paths: Sequence[str], *, version_stage: str | None = None
    ) -> dict[str, SecretData | SourceError]:
        self.reads += paths
        return super().fetch_many(paths, version_stage=version_stage)

    def unchanged(self, known: Mapping[str, int], *, max_age: float) -> set[str]:
        return set(known) - self.changed


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def out() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(dir="/dev/shm") as root:
        yield Path(root) / "out"


def _setup(
    out: Path, specs: list[SecretSpec]
) -> tuple[SecretTable, BatchRefresher, Stamped, Clock]:
    source, clock = Stamped(), Clock()
    for s in specs:
        source.put(s.path, f"value-of-{s.target}")
    table = SecretTable(specs)
    refresher = batch_refresher(table, source, out, clock=clock, seed=3)
    assert refresher.sync(specs).ok
    source.reads.clear()
    return table, refresher, source, clock


def _state(table: SecretTable, target: str) -> SecretState:
    state = table.peek(target)
    assert state is not None
    return state


def _due_at(table: SecretTable, target: str) -> float:
    at = _state(table, target).next_refresh_at
    assert at is not None
    return at


def test_a_confirmation_settles_its_whole_directory_and_reads_what_changed(out: Path) -> None:
    specs = [spec(f"d/s{i}", INTERVAL) for i in range(10)] + [spec("e/x", INTERVAL)]
    table, refresher, source, clock = _setup(out, specs)
    clock.now += 0.5 * INTERVAL  # past EVIDENCE_SHARE of the interval since the first sync
    source.changed = {"d/s7"}
    source.put("d/s7", "rotated")
    # What a wake-up hands out: the secrets due by d/s0's slot (some of d/, maybe e/x).
    handed = table.take_due(_due_at(table, "d/s0"), random.Random(1))
    assert "d/s0" in {s.target for s in handed}
    report, rest = refresher.run_each(handed)
    assert rest == [] and report.ok
    assert source.reads == ["d/s7"]  # only the changed one was read
    assert (out / "d/s7" / "password").read_text() == "rotated"
    settled = {s.target for s in specs if _state(table, s.target).fetched_at == clock.now}
    assert settled >= {f"d/s{i}" for i in range(10)}  # the whole directory
    assert table.confirmed_total() == 9 + ("e/x" in {s.target for s in handed})
    assert table.unscheduled() == set()  # every secret has its next wake-up


def test_a_sweep_leaves_no_large_in_flight_set_behind(out: Path) -> None:
    """Sets keep their largest table until cleared: 10,000 secrets taken along at once would
    leave a megabyte behind in the in-flight set."""
    specs = [spec(f"d/s{i:05d}", INTERVAL) for i in range(10_000)]
    table, refresher, _, clock = _setup(out, specs)
    clock.now += 0.5 * INTERVAL
    handed = table.take_due(_due_at(table, "d/s00000"), random.Random(1))
    refresher.run_each(handed)
    assert table.confirmed_total() == 10_000
    assert sys.getsizeof(table._in_flight) < 4096


def test_a_directory_is_swept_once_per_share_of_its_interval() -> None:
    siblings = Siblings(EVIDENCE_SHARE)
    siblings.configure([spec(f"d/s{i}", INTERVAL) for i in range(3)] + [spec("lone/x", 10.0)])
    assert list(siblings.sweep("d/", 0.0)) == ["d/s0", "d/s1", "d/s2"]
    assert list(siblings.sweep("d/", EVIDENCE_SHARE * INTERVAL - 1.0)) == []
    assert list(siblings.sweep("d/", EVIDENCE_SHARE * INTERVAL)) == ["d/s0", "d/s1", "d/s2"]
    assert list(siblings.sweep("lone/", 0.0)) == []  # a directory of one has no siblings


def test_failing_never_read_and_fresh_siblings_are_not_taken(out: Path) -> None:
    specs = [spec(f"d/s{i}", INTERVAL) for i in range(6)]
    table, _, _, clock = _setup(out, specs)
    clock.now += 0.5 * INTERVAL
    changes = {
        "d/s1": {"last_error": "Vault unavailable"},  # failing: keeps its backoff schedule
        "d/s2": {"stamp": None},  # never read cleanly: nothing to confirm it with
        "d/s4": {"fetched_at": clock.now - 1.0},  # checked a moment ago
    }
    for target, fields in changes.items():
        state = table.state(target)
        assert state is not None
        for name, value in fields.items():
            setattr(state, name, value)
        table._states[target] = state  # as a refresh would have stored it
    along = {s.target for s in table.take_along(["d/"], clock.now)}
    assert along == {"d/s0", "d/s3", "d/s5"}
    assert table.take_along(["d/"], clock.now) == []  # taken (in flight), and swept just now


def test_nothing_is_taken_along_while_the_backend_is_down(out: Path) -> None:
    specs = [spec(f"d/s{i}", INTERVAL) for i in range(4)]
    table, refresher, source, clock = _setup(out, specs)
    clock.now += 0.5 * INTERVAL
    source.error = BackendUnavailableError("Vault is sealed")
    source.changed = {s.path for s in specs}  # nothing confirmed: the reads find the outage
    handed = table.take_due(clock.now + INTERVAL, random.Random(1))
    refresher.run_each(handed[:1])  # closes the outage gate
    assert not table.gate().is_open
    assert table.take_along(["d/"], clock.now + INTERVAL) == []
