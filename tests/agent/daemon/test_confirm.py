"""Refreshes without a read (``daemon.confirm``): the agent against a real OpenBao confirms
unchanged secrets from a directory listing, reads a rotated or tampered one and writes it again,
never confirms for the outage probe; with an in-memory source that would confirm anything, the
daemon's own rules (templates, errors, missing secrets, leases, version stages) still read."""

from __future__ import annotations

import dataclasses
import logging
import os
import random
import stat
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from fake_sources import FakeSource, agent_config, batch_refresher, spec
from secrets_agent.config.load import Config, SecretSpec, VaultBackendConfig, parse_config
from secrets_agent.config.schema import TemplateSpec
from secrets_agent.daemon import batch
from secrets_agent.daemon.agent import Agent
from secrets_agent.daemon.confirm import (
    EVIDENCE_SHARE,
    READ_EVERY,
    confirm_unchanged,
    confirmable,
)
from secrets_agent.daemon.manual import ManualScheduler
from secrets_agent.daemon.refresh import refresh
from secrets_agent.daemon.state import SecretState
from secrets_agent.daemon.table import SecretTable
from secrets_agent.sources.result import (
    UNCHANGED,
    AccessDeniedError,
    SecretData,
    SecretMissingError,
    SourceError,
)
from secrets_agent.sources.vault.listing import KvListings
from secrets_agent.sources.vault.source import VaultSource

INTERVAL = 60.0
PAST_DUE = 70.0  # one interval and its +-10 % jitter


@pytest.fixture(scope="module")
def openbao(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from openbao_server import started_for_tests

    server = started_for_tests(tmp_path_factory, "openbao-confirm")
    yield server
    server.stop()


class Reads:
    """Counts the KV reads a ``VaultSource`` sends to the server, path by path."""

    def __init__(self, source: VaultSource) -> None:
        self.paths: list[str] = []
        real = source._read

        def counted(address: str, path: str, token: str | None) -> SecretData:
            self.paths.append(path)
            return real(address, path, token)

        source._read = counted  # type: ignore[method-assign]

    def take(self) -> list[str]:
        taken, self.paths = sorted(self.paths), []
        return taken


def _config(openbao: Any, out: Path, paths: list[str]) -> Config:
    return parse_config(
        {
            "agent": {"output_dir": str(out), "refresh_interval": f"{INTERVAL:g}s"},
            "backend": {
                "type": "vault",
                "address": openbao.url,
                "auth": {"method": "token", "token": openbao.root_token},
            },
            "secrets": [{"path": p} for p in paths],
        },
        environ={},
    )


def _vault(config: Config) -> VaultBackendConfig:
    assert isinstance(config.backend, VaultBackendConfig)
    return config.backend


def _put(openbao: Any, directory: str, n: int, canary: str) -> dict[str, str]:
    values = {f"{directory}/s{i:02d}": f"{canary}-{i:02d}" for i in range(n)}
    for path, value in values.items():
        openbao.put_secret(path, {"password": value})
    return values


class Running:
    """A real Agent on a manual scheduler, with a real ``VaultSource`` whose reads are counted."""

    def __init__(self, openbao: Any, out: Path, paths: list[str]) -> None:
        config = _config(openbao, out, paths)
        self.source = VaultSource(_vault(config), concurrency=4)
        self.reads = Reads(self.source)
        self.scheduler = ManualScheduler()
        self.agent = Agent(
            config,
            source=self.source,
            clock=self.scheduler.clock,
            scheduler=self.scheduler,
            rng=random.Random(7),
        )
        self.out = out

    def files(self) -> dict[str, Path]:
        """target -> its one file (format ``fields``: ``<target>/password``)."""
        found: dict[str, Path] = {}
        for state in self.agent.states():
            assert len(state.files) == 1, state.files
            found[state.target] = self.out / state.files[0]
        return found

    def inodes(self) -> dict[str, int]:
        return {t: f.stat().st_ino for t, f in self.files().items()}

    def close(self) -> None:
        self.agent.stop()
        self.source.close()


@pytest.fixture
def running(openbao: Any, tmpfs_dir: Path, canary: str) -> Iterator[tuple[Running, dict[str, str]]]:
    directory = f"confirm-{os.urandom(4).hex()}"
    values = _put(openbao, directory, 10, canary)
    run = Running(openbao, tmpfs_dir / "out", sorted(values))
    try:
        yield run, values
    finally:
        run.close()


def test_a_scheduled_refresh_confirms_unchanged_secrets_and_reads_a_rotated_one(
    openbao: Any,
    running: tuple[Running, dict[str, str]],
    canary: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    run, values = running
    caplog.set_level(logging.DEBUG)
    report = run.agent.sync_once()
    assert report.ok and report.written == 10
    assert run.reads.take() == sorted(values)
    before = run.inodes()
    synced_at = {s.target: s.fetched_at for s in run.agent.states()}

    rotated = sorted(values)[4]
    values[rotated] = f"{canary}-rotated"
    openbao.put_secret(rotated, {"password": values[rotated]})
    run.agent.start()
    run.scheduler.advance(PAST_DUE)

    assert run.reads.take() == [rotated]  # the nine others were confirmed by a listing
    assert run.source.listings.listed >= 1
    after = run.inodes()
    assert {t: i for t, i in after.items() if t != rotated} == {
        t: i for t, i in before.items() if t != rotated
    }
    assert after[rotated] != before[rotated]
    for target, path in run.files().items():
        assert path.read_text() == values[target]
    for state in run.agent.states():
        assert state.last_error is None
        synced = synced_at[state.target]
        assert state.fetched_at is not None and synced is not None
        assert state.fetched_at > synced

    run.scheduler.advance(PAST_DUE)  # the rotated secret's new version is confirmed too
    assert run.reads.take() == []
    assert run.inodes() == after
    assert canary not in caplog.text


def _tamper_same_size(path: Path) -> None:
    content = path.read_bytes()
    flipped = bytes([content[0] ^ 0x01]) + content[1:]
    with open(path, "r+b") as f:  # in place: same inode, same size, same mode
        f.write(flipped)
    assert path.stat().st_size == len(content)


@pytest.mark.skipif(os.geteuid() != 0, reason="tampers as root: edits 0400 files, chowns to 65534")
def test_tampered_files_are_read_and_written_again(
    running: tuple[Running, dict[str, str]],
    tmpfs_dir: Path,
    canary: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    run, values = running
    caplog.set_level(logging.DEBUG)
    outside = tmpfs_dir / "outside"
    outside.write_text("not the agent's")
    outside_before = os.stat(outside)
    run.agent.sync_once()
    run.agent.start()
    run.scheduler.advance(PAST_DUE)
    run.reads.take()
    run.scheduler.advance(PAST_DUE)
    assert run.reads.take() == []  # confirmation works before the files are touched

    files = run.files()
    edited, chmodded, deleted, replaced, linked, chowned, hardlinked = sorted(values)[:7]
    _tamper_same_size(files[edited])
    files[chmodded].chmod(0o644)
    files[deleted].unlink()
    stranger = files[replaced].with_name("stranger")
    stranger.write_text("another file")
    stranger.chmod(0o400)
    os.replace(stranger, files[replaced])
    files[linked].unlink()
    files[linked].symlink_to(outside)
    os.chown(files[chowned], 65534, 65534)
    os.link(files[hardlinked], tmpfs_dir / "hardlink")

    run.scheduler.advance(PAST_DUE)
    tampered = [edited, chmodded, deleted, replaced, linked, chowned, hardlinked]
    assert run.reads.take() == sorted(tampered)
    for target, path in run.files().items():
        st = os.lstat(path)
        assert stat.S_ISREG(st.st_mode), target
        assert stat.S_IMODE(st.st_mode) == 0o400, target
        assert path.read_text() == values[target], target
        assert (st.st_uid, st.st_gid, st.st_nlink) == (os.getuid(), os.getgid(), 1), target
    for state in run.agent.states():
        assert state.last_error is None
    assert outside.read_text() == "not the agent's"
    after = os.stat(outside)
    assert (after.st_ino, after.st_mode, after.st_mtime_ns, after.st_ctime_ns) == (
        outside_before.st_ino,
        outside_before.st_mode,
        outside_before.st_mtime_ns,
        outside_before.st_ctime_ns,
    )
    assert sorted(p.name for p in tmpfs_dir.iterdir()) == ["hardlink", "out", "outside"]

    run.scheduler.advance(PAST_DUE)  # written again: confirmed again
    assert run.reads.take() == []
    assert canary not in caplog.text


def test_the_outage_probe_always_reads(
    openbao: Any, tmpfs_dir: Path, canary: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    values = _put(openbao, f"probe-{os.urandom(4).hex()}", 9, canary)
    config = _config(openbao, tmpfs_dir / "out", sorted(values))
    source = VaultSource(_vault(config), concurrency=4)
    reads = Reads(source)
    source.expect(values)
    table = SecretTable(config.secrets)
    refresher = batch_refresher(table, source, config.agent.output_dir, clock=lambda: 1_000.0)
    specs = list(config.secrets)
    try:
        assert refresher.sync(specs).written == 9  # the first sync is a probe: it reads
        assert reads.take() == sorted(values)
        report = refresher.run(specs)
        assert report.ok and report.unchanged == 9 and reads.take() == []
        report = refresher.run(specs, probe=True)
        assert report.ok and report.unchanged == 9 and reads.take() == sorted(values)
        report, rest = refresher.run_each(specs)
        assert report.ok and rest == [] and reads.take() == []
    finally:
        source.close()
    assert canary not in caplog.text


# -- the daemon's rules, with a source that would confirm anything ------------------------------


class ConfirmsAnything(FakeSource):
    """Every secret it serves has a stamp; ``unchanged`` confirms every path it is asked about
    except those in ``changed``, and records what it was asked; ``events`` holds every
    question and every read, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: list[tuple[set[str], float]] = []
        self.changed: set[str] = set()
        self.events: list[tuple[str, set[str]]] = []

    def fetch_many(
        self, paths: Sequence[str], *, version_stage: str | None = None
    ) -> dict[str, SecretData | SourceError]:
        self.events.append(("read", set(paths)))
        return super().fetch_many(paths, version_stage=version_stage)

    def put(self, path: str, value: str) -> None:
        """Serve ``{"password": value}`` at ``path``, stamped."""
        self.set(path, password=value)
        data = self.secrets[path]
        assert isinstance(data, SecretData)
        data.stamp = hash((path, value))

    def unchanged(self, known: Mapping[str, int], *, max_age: float) -> set[str]:
        self.asked.append((set(known), max_age))
        self.events.append(("asked", set(known)))
        return set(known) - self.changed

    def read(self) -> set[str]:
        with self.lock:
            calls, self.calls = self.calls, []
        return {p for call in calls for p in call}


def test_the_daemon_reads_what_it_may_not_confirm(
    tmpfs_dir: Path, canary: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    source = ConfirmsAnything()
    for path in ("plain", "fed", "flaky", "gone"):
        source.put(path, f"{canary}-{path}")
    template = TemplateSpec(
        target="app.conf", template="pw={{ s.password }}", sources=(("s", "fed"),)
    )
    config = dataclasses.replace(
        agent_config(
            tmpfs_dir / "out", [spec(p, INTERVAL) for p in ("plain", "fed", "flaky", "gone")]
        ),
        templates=(template,),
    )
    scheduler = ManualScheduler()
    agent = Agent(
        config, source=source, clock=scheduler.clock, scheduler=scheduler, rng=random.Random(3)
    )
    try:
        assert agent.sync_once().ok
        assert source.read() == {"plain", "fed", "flaky", "gone"}
        agent.start()

        # Round 1: "flaky" and "gone" changed at the source; reading them fails.
        source.changed = {"flaky", "gone"}
        source.secrets["flaky"] = AccessDeniedError("denied", path="flaky")
        source.secrets["gone"] = SecretMissingError("gone", path="gone")
        scheduler.advance(PAST_DUE)
        first = source.read()
        assert first >= {"fed", "flaky", "gone"} and "plain" not in first
        states = {s.target: s for s in agent.states()}
        assert states["flaky"].last_error is not None and states["flaky"].stamp is not None
        assert states["gone"].missing

        # Round 2: the source would confirm all four; the daemon still reads three of them.
        source.changed = set()
        source.asked.clear()
        source.events.clear()
        source.put("flaky", f"{canary}-flaky")
        scheduler.advance(PAST_DUE)
        assert source.read() == {"fed", "flaky", "gone"}
        asked = set().union(*(known for known, _ in source.asked))
        assert "plain" in asked and not asked & {"fed", "gone"}
        # "flaky" may be asked about only once it was read again, without an error.
        read_again = [i for i, (kind, paths) in enumerate(source.events) if "flaky" in paths]
        assert source.events[read_again[0]][0] == "read"
        assert {max_age for _, max_age in source.asked} == {EVIDENCE_SHARE * INTERVAL}
        states = {s.target: s for s in agent.states()}
        assert states["flaky"].last_error is None
        assert states["gone"].missing
        assert (tmpfs_dir / "out" / "app.conf").read_text() == f"pw={canary}-fed"
    finally:
        agent.stop()
    assert canary not in caplog.text


class Identity:
    """A writer stand-in whose ``identity`` is a number per file list."""

    def identity(self, relpaths: list[str]) -> int:
        return hash(tuple(relpaths))


def _state(path: str, target: str, stamp: int) -> SecretState:
    state = SecretState(path=path, target=target)
    state.stamp = stamp
    state.files = [f"{target}/password"]
    state.files_mark = hash(tuple(state.files))
    return state


def _confirm(
    source: ConfirmsAnything, specs: Sequence[SecretSpec], states: dict[str, SecretState]
) -> set[str]:
    """``confirm_unchanged`` with files that always match and no templates."""
    return confirm_unchanged(
        source,
        Identity(),  # type: ignore[arg-type]
        specs,
        state_of=states.get,
        feeds_template=lambda target: False,
    )


@pytest.mark.parametrize(
    "unclean",
    [
        {"missing": True},
        {"last_error": "denied"},
        {"stamp": None},
        {"files_mark": None},
        {"files_mark": 12345},  # the files are not the ones written
        {"confirmations": READ_EVERY - 1},  # due for a read
    ],
    ids=["missing", "last-error", "no-stamp", "no-files-mark", "files-changed", "read-due"],
)
def test_a_state_that_is_not_a_clean_read_is_not_confirmed(unclean: dict[str, Any]) -> None:
    source = ConfirmsAnything()
    plain, other = spec("plain", INTERVAL), spec("other", INTERVAL)
    states = {"plain": _state("plain", "plain", 1), "other": _state("other", "other", 1)}
    for name, value in unclean.items():
        setattr(states["other"], name, value)
    confirmed = _confirm(source, [plain, other], states)
    assert confirmed == {"plain"}


@pytest.mark.parametrize(
    "excluded",
    [
        spec("lease", INTERVAL, kind="lease", method="GET"),
        spec("staged", INTERVAL, version_stage="AWSPREVIOUS"),
    ],
    ids=["lease", "version-stage"],
)
def test_leases_and_version_stages_are_never_confirmed(excluded: SecretSpec) -> None:
    source = ConfirmsAnything()
    plain = spec("plain", INTERVAL)
    states = {s.target: _state(s.path, s.target, 1) for s in (plain, excluded)}
    confirmed = _confirm(source, [plain, excluded], states)
    assert confirmed == {"plain"}
    assert [known for known, _ in source.asked] == [{"plain"}]


def test_two_targets_of_one_path_from_different_versions_are_read() -> None:
    source = ConfirmsAnything()
    first = spec("p", INTERVAL, target="one")
    second = spec("p", INTERVAL, target="two")
    states = {"one": _state("p", "one", 1), "two": _state("p", "two", 2)}
    confirmed = _confirm(source, [first, second], states)
    assert confirmed == {"one"}  # "two" was written from another version than "one"


def test_evidence_may_be_a_tenth_of_the_shortest_interval_old() -> None:
    source = ConfirmsAnything()
    specs = [spec("a", 600.0), spec("b", 30.0)]
    states = {s.target: _state(s.path, s.target, 1) for s in specs}
    _confirm(source, specs, states)
    assert source.asked == [({"a", "b"}, EVIDENCE_SHARE * 30.0)]


def test_a_secret_is_read_after_read_every_minus_one_confirmations() -> None:
    """``refresh`` counts confirmations and a read resets the count; the rule above then
    makes every ``READ_EVERY``-th refresh a read."""
    writer = Identity()
    state = _state("p", "t", 1)
    target = spec("p", INTERVAL)
    for n in range(1, READ_EVERY):
        assert confirmable(target, state)
        result = refresh(target, UNCHANGED, writer, state, now=float(n))  # type: ignore[arg-type]
        assert result.ok and result.confirmed and state.confirmations == n
    assert not confirmable(target, state)


def test_a_reload_that_changes_every_spec_rewrites_every_secret(
    running: tuple[Running, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(batch, "SYNC_CHUNK", 4)  # a reload of 10 changed secrets: 3 chunks
    run, values = running
    run.agent.sync_once()
    run.reads.take()
    config = run.agent.config
    changed = [dataclasses.replace(s, mode=0o440) for s in config.secrets]
    run.agent.reload(dataclasses.replace(config, secrets=tuple(changed)))
    modes = {t: stat.S_IMODE(p.stat().st_mode) for t, p in run.files().items()}
    assert modes == dict.fromkeys(values, 0o440)
    assert run.reads.take() == sorted(values)


def test_after_an_outage_one_listing_settles_the_directory(
    openbao: Any,
    running: tuple[Running, dict[str, str]],
    canary: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    run, values = running
    caplog.set_level(logging.DEBUG)
    # Listings age on the scheduler's clock here, so a listing made before the seal is stale
    # once an interval has passed on it.
    run.source.listings = KvListings(clock=run.scheduler.clock)
    run.source.expect(sorted(values))
    assert run.agent.sync_once().ok
    assert run.reads.take() == sorted(values)
    run.agent.start()
    run.scheduler.advance(PAST_DUE)  # one steady round, confirmed from a listing
    assert run.reads.take() == []
    openbao.seal()
    try:
        run.scheduler.advance(PAST_DUE)  # every secret falls due while the server is sealed
        assert all(s.last_error for s in run.agent.states())
    finally:
        openbao.unseal()
    run.reads.take()  # what the seal refused
    listed = run.source.listings.listed

    def advance_until(done: Any, limit: float) -> float:
        end = run.scheduler.clock() + limit
        while not done():
            assert run.scheduler.clock() < end, [dataclasses.asdict(s) for s in run.agent.states()]
            run.scheduler.advance(0.25)
        return run.scheduler.clock()

    # The probe notices the return; held secrets get their pre-outage state back at once.
    back_at = advance_until(lambda: all(s.last_error is None for s in run.agent.states()), 60)
    probe = run.reads.take()
    assert len(probe) == 1, probe
    # The first secret of the catch-up lists the directory and settles the others with it.
    advance_until(lambda: all(s.fetched_at >= back_at for s in run.agent.states()), 60)
    assert run.reads.take() == []
    assert run.source.listings.listed > listed
    settled = {s.fetched_at for s in run.agent.states() if s.path not in probe}
    assert len(settled) == 1, settled  # nine secrets, one moment: not spread over the window
    for target, path in run.files().items():
        assert path.read_text() == values[target]
    assert canary not in caplog.text
