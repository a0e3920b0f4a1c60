"""Agent with an injected in-memory source: sync, background refresh, reload, stop, notify."""

from __future__ import annotations

import random
import socket
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest
from fake_sources import FakeSource, agent_config
from fake_sources import spec as make_spec
from secrets_agent.config.load import (
    AgentSettings,
    Config,
)
from secrets_agent.daemon import outage as pacing
from secrets_agent.daemon.agent import Agent
from secrets_agent.notify import Notifier
from secrets_agent.sources.result import (
    BackendUnavailableError,
    SecretData,
    SourceError,
)


def _wait(predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


@pytest.fixture
def out(tmpfs_dir: Path) -> Path:
    return tmpfs_dir / "out"


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[tuple[Notifier, socket.socket]]:
    path = str(tmp_path / "notify")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(0.2)
    yield Notifier(path), sock
    sock.close()


def _messages(sock: socket.socket) -> list[str]:
    seen: list[str] = []
    while True:
        try:
            seen.extend(sock.recv(4096).decode().split("\n"))
        except TimeoutError:
            return seen


def test_sync_once_writes_every_secret_and_reports(out: Path) -> None:
    source = FakeSource()
    source.set("a", user="u")
    source.set("b", k="v")
    agent = Agent(
        agent_config(out, [make_spec("a"), make_spec("b"), make_spec("gone")]), source=source
    )
    report = agent.sync_once()
    assert not report.ok and report.written == 2 and report.unchanged == 0
    assert list(report.failed) == ["gone"] and "no such secret" in report.failed["gone"]
    assert (out / "a/user").read_bytes() == b"u"
    again = agent.sync_once()
    assert again.written == 0 and again.unchanged == 2
    states = {s.target: s for s in agent.states()}
    assert states["gone"].missing and states["a"].version == "1"
    agent.stop()
    assert not source.closed  # an injected source belongs to the caller


def test_ready_only_after_every_secret_is_in_place(
    out: Path, notify_socket: tuple[Notifier, socket.socket]
) -> None:
    notifier, sock = notify_socket
    source = FakeSource()
    source.set("a", k="1")
    source.secrets["b"] = BackendUnavailableError("down")
    agent = Agent(
        agent_config(out, [make_spec("a", 0.3), make_spec("b", 0.3)]),
        source=source,
        notifier=notifier,
    )
    agent.sync_once()
    agent.announce_ready()
    first = _messages(sock)
    assert "READY=1" not in first
    assert any(m.startswith("STATUS=1/2 secrets fresh, 1 failing") for m in first)
    source.set("b", k="2")
    agent.start()
    try:
        assert _wait(lambda: (out / "b/k").exists())
        assert _wait(lambda: "READY=1" in _messages(sock))
    finally:
        agent.stop()


def test_background_refresh_sees_rotation_and_survives_outage(out: Path) -> None:
    source = FakeSource()
    source.set("a", version="1", k="one")
    agent = Agent(agent_config(out, [make_spec("a", 0.3)]), source=source)
    agent.sync_once()
    agent.start()
    try:
        source.set("a", version="2", k="two")
        assert _wait(lambda: (out / "a/k").read_bytes() == b"two")
        inode = (out / "a/k").stat().st_ino
        source.secrets["a"] = BackendUnavailableError("sealed")
        calls = len(source.calls)
        assert _wait(lambda: len(source.calls) >= calls + 3)
        assert (out / "a/k").read_bytes() == b"two"
        assert (out / "a/k").stat().st_ino == inode
        state = agent.states()[0]
        assert state.consecutive_failures >= 1 and state.last_error == "sealed"
        source.set("a", version="3", k="three")
        assert _wait(lambda: (out / "a/k").read_bytes() == b"three", timeout=8)
    finally:
        agent.stop()
    calls = len(source.calls)
    time.sleep(0.8)
    assert len(source.calls) == calls  # stopped means stopped


def test_batched_groups_fetch_together(out: Path) -> None:
    source = FakeSource(batch_size=20)
    specs = [make_spec(f"s{i}", 0.4) for i in range(25)]
    for spec in specs:
        source.set(spec.path, k=spec.path)
    agent = Agent(agent_config(out, specs), source=source)
    agent.sync_once()
    assert source.calls == [tuple(s.path for s in specs)]
    agent.start()
    try:
        assert _wait(lambda: len(source.calls) >= 5)
    finally:
        agent.stop()
    # Secrets falling due together (within a quarter interval) share a call of at most 20,
    # never one call per secret.
    background = source.calls[1:]
    assert all(len(c) <= 20 for c in background)
    assert sum(len(c) for c in background) >= 5 * len(background)


def test_reload_prunes_removed_secrets_and_adds_new_ones(out: Path) -> None:
    source = FakeSource()
    for name in ("keep", "drop", "new"):
        source.set(name, k=name)
    agent = Agent(agent_config(out, [make_spec("keep"), make_spec("drop")]), source=source)
    agent.sync_once()
    agent.start()
    assert (out / "drop/k").exists()
    keep_inode = (out / "keep/k").stat().st_ino
    (out / "unmanaged").write_text("not ours")
    agent.reload(agent_config(out, [make_spec("keep"), make_spec("new", format="raw", field="k")]))
    try:
        assert not (out / "drop").exists()
        assert (out / "new").read_bytes() == b"new"
        assert (out / "keep/k").stat().st_ino == keep_inode
        assert (out / "unmanaged").read_text() == "not ours"
        assert [s.target for s in agent.states()] == ["keep", "new"]
    finally:
        agent.stop()


def test_rejected_reload_is_published_until_a_reload_succeeds(
    out: Path, notify_socket: tuple[Notifier, socket.socket]
) -> None:
    import json

    notifier, sock = notify_socket
    source = FakeSource()
    source.set("a", k="1")
    agent = Agent(agent_config(out, [make_spec("a")]), source=source, notifier=notifier)
    agent.sync_once()
    _messages(sock)
    agent.reload_failed(["agent.output_dir: must be absolute", "backend.type: unknown\ntype"])
    status = json.loads((out / ".status.json").read_text())
    assert status["agent"]["reload_error"] == [
        "agent.output_dir: must be absolute",
        "backend.type: unknown type",
    ]
    lines = [m for m in _messages(sock) if m.startswith("STATUS=")]
    assert lines and lines[-1] == (
        "STATUS=1/1 secrets fresh, oldest 0s; reload failed: agent.output_dir: must be absolute"
        " (+1 more)"
    )
    agent.sync_once()  # later cycles keep reporting it
    assert json.loads((out / ".status.json").read_text())["agent"]["reload_error"]
    agent.reload(agent_config(out, [make_spec("a")]))
    assert json.loads((out / ".status.json").read_text())["agent"]["reload_error"] is None
    assert "reload failed" not in [m for m in _messages(sock) if m.startswith("STATUS=")][-1]
    agent.stop()


def test_restart_prunes_files_of_secrets_no_longer_configured(out: Path) -> None:
    pytest.importorskip("secrets_agent.status")
    source = FakeSource()
    source.set("a", k="1")
    source.set("b", k="2")
    first = Agent(agent_config(out, [make_spec("a"), make_spec("b")]), source=source)
    first.sync_once()
    first.stop()
    source.secrets["a"] = BackendUnavailableError("down")
    second = Agent(agent_config(out, [make_spec("a")]), source=source)
    second.sync_once()
    assert not (out / "b").exists()
    assert (out / "a/k").read_bytes() == b"1"
    assert second.all_synced()  # files from the previous run count as in place
    second.stop()


def test_on_change_runs_only_when_content_changed(out: Path, tmp_path: Path) -> None:
    log_file = tmp_path / "runs"
    code = f"open({str(log_file)!r}, 'a').write('x')"
    source = FakeSource()
    source.set("a", k="1")
    spec = make_spec("a", on_change=(sys.executable, "-c", code))
    agent = Agent(agent_config(out, [spec]), source=source, rng=random.Random(1))
    agent.sync_once()
    agent.sync_once()
    assert log_file.read_text() == "x"
    source.set("a", version="2", k="2")
    agent.sync_once()
    assert log_file.read_text() == "xx"
    agent.stop()


def test_change_listeners_run_once_every_file_of_the_secret_is_in_place(
    out: Path, caplog: pytest.LogCaptureFixture, canary: str
) -> None:
    source = FakeSource()
    source.set("a", user="u1", password=canary, token="t1")
    source.set("b", k="1")
    agent = Agent(agent_config(out, [make_spec("a"), make_spec("b")]), source=source)
    seen: list[tuple[object, ...]] = []

    def listener(*args: object) -> None:
        on_disk = {p.name: p.read_text() for p in sorted((out / "a").iterdir())}
        seen.append((*args, on_disk))

    def broken(target: str) -> None:
        raise RuntimeError(f"listener bug on {target}")

    agent.add_change_listener(broken)  # its failure must not stop the refresh or the others
    agent.add_change_listener(listener)
    first = agent.sync_once()
    assert first.ok and first.written == 2
    assert [s[0] for s in seen] == ["a", "b"]
    seen.clear()
    assert agent.sync_once().unchanged == 2
    assert seen == []  # nothing changed: nobody is told
    source.set("a", version="2", user="u2", password=canary + "2", token="t2")
    with caplog.at_level("ERROR", logger="secrets_agent"):
        report = agent.sync_once()
    assert report.ok and report.written == 1
    # one call, with the target only, after the last of its files was replaced
    assert seen == [("a", {"password": canary + "2", "token": "t2", "user": "u2"})]
    assert "listener bug on a" in caplog.text and "RuntimeError" in caplog.text
    assert canary not in caplog.text
    agent.remove_change_listener(listener)
    source.set("a", version="3", user="u3", password=canary, token="t3")
    agent.sync_once()
    assert len(seen) == 1
    agent.stop()


def test_change_listeners_hear_of_files_pruned_by_a_reload(out: Path) -> None:
    source = FakeSource()
    source.set("keep", k="1")
    source.set("drop", k="2")
    agent = Agent(agent_config(out, [make_spec("keep"), make_spec("drop")]), source=source)
    agent.sync_once()
    seen: list[tuple[str, bool]] = []
    agent.add_change_listener(lambda t: seen.append((t, (out / t).exists())))
    agent.reload(agent_config(out, [make_spec("keep")]))
    assert seen == [("drop", False)]
    agent.stop()


def test_stop_waits_for_an_in_flight_refresh(out: Path) -> None:
    class SlowSource(FakeSource):
        def fetch_many(
            self, paths: Sequence[str], *, version_stage: str | None = None
        ) -> dict[str, SecretData | SourceError]:
            time.sleep(0.5)
            return super().fetch_many(paths)

    source = SlowSource()
    source.set("a", version="1", k="1")
    agent = Agent(agent_config(out, [make_spec("a", 0.2)]), source=source)
    agent.sync_once()
    source.set("a", version="2", k="2")
    agent.start()
    time.sleep(0.35)  # the background fetch is now sleeping
    agent.stop(timeout=5)
    # The refresh that was in flight finished its write before stop returned.
    assert (out / "a/k").read_bytes() == b"2"


def test_status_and_metrics_files_follow_each_cycle(out: Path, tmp_path: Path) -> None:
    import json

    source = FakeSource()
    source.set("a", k="1")
    metrics = tmp_path / "agent.prom"
    agent = Agent(
        agent_config(out, [make_spec("a"), make_spec("b")], metrics_file=metrics), source=source
    )
    agent.sync_once()
    status = json.loads((out / ".status.json").read_text())
    entries = {e["target"]: e for e in status["secrets"]}
    assert entries["a"]["version"] == "1" and entries["a"]["files"] == ["a/k"]
    assert entries["b"]["missing"] is True and entries["b"]["last_error"]
    text = metrics.read_text()
    assert "secrets_agent" in text and 'target="a"' in text
    agent.stop()


def test_outage_gate_sends_one_probe_then_catches_up(out: Path) -> None:
    source = FakeSource()
    specs = [make_spec(f"s{i}", 1.0) for i in range(6)]
    for spec in specs:
        source.set(spec.path, k="v1")
    agent = Agent(agent_config(out, specs), source=source, notifier=Notifier(None))
    assert agent.sync_once().ok
    before = {p: (out / p / "k").stat().st_ino for p in (s.path for s in specs)}
    for spec in specs:
        source.secrets[spec.path] = BackendUnavailableError("sealed", path=spec.path)
    agent.start()
    try:
        assert _wait(lambda: all(s.consecutive_failures >= 1 for s in agent.states()), 6)
        source.calls.clear()
        time.sleep(3.0)  # three intervals: without the gate, ~18+ calls
        calls = list(source.calls)
        assert all(len(c) == 1 for c in calls)
        assert len({c[0] for c in calls}) <= 1  # only the probe's secret is asked for
        assert len(calls) <= 4  # backing off from 1 s, capped at the 1 s interval
        errors = {s.last_error for s in agent.states()}
        assert errors <= {"sealed", pacing.held_error("sealed")}  # the probe's, the held ones'
        assert {p: (out / p / "k").stat().st_ino for p in before} == before  # files kept
        for spec in specs:
            source.set(spec.path, version="2", k="v2")
        # Probe (<= 1 s) then catch-up within the window (<= the 1 s interval).
        assert _wait(lambda: all((out / s.path / "k").read_bytes() == b"v2" for s in specs), 5)
        assert all(s.consecutive_failures == 0 for s in agent.states())
    finally:
        agent.stop()


def test_per_secret_errors_do_not_close_the_gate(out: Path) -> None:
    source = FakeSource()
    specs = [make_spec(f"s{i}", 0.5) for i in range(3)]
    for spec in specs:
        source.set(spec.path, k="v")
    agent = Agent(agent_config(out, specs), source=source, notifier=Notifier(None))
    assert agent.sync_once().ok
    del source.secrets["s0"]  # missing: a per-secret error
    agent.start()
    try:
        source.calls.clear()

        def others_asked_after_s0_failed() -> bool:
            calls = list(source.calls)
            first = next((i for i, call in enumerate(calls) if "s0" in call), None)
            if first is None:
                return False
            return {"s1", "s2"} <= {path for call in calls[first + 1 :] for path in call}

        # the others keep refreshing on their own schedule after the missing one failed
        assert _wait(others_asked_after_s0_failed, 5.0), source.calls
    finally:
        agent.stop()


def test_a_source_that_cannot_be_built_fails_every_secret_with_a_setup_error(
    out: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from secrets_agent.config.load import AwsBackendConfig
    from secrets_agent.sources.base import SourceSetupError, create_source

    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_CONFIG_FILE", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(out.parent / "no-such-config"))
    backend = AwsBackendConfig(region=None)
    with pytest.raises(SourceSetupError, match="cannot set up the aws client"):
        create_source(backend)
    config = Config(agent=AgentSettings(output_dir=out), backend=backend, secrets=(make_spec("a"),))
    agent = Agent(config, notifier=Notifier(None))
    report = agent.sync_once()
    assert not report.ok and "cannot set up the aws client" in report.failed["a"]
    state = agent.states()[0]
    assert state.consecutive_failures == 1 and state.next_refresh_at is not None
    agent.stop()


def test_outage_probe_max_sets_the_probe_ceiling(out: Path) -> None:
    from secrets_agent.daemon.table import SecretTable

    specs = [make_spec("a", 300.0)]
    assert SecretTable(specs).gate().cap == 300.0  # one secret: no faster than it refreshes
    assert SecretTable(specs, probe_max=2.0).gate().cap == 2.0  # as configured
    many = [make_spec(f"s{i}", 300.0) for i in range(1000)]
    assert SecretTable(many).gate().cap == 5.0
