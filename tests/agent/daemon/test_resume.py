"""Adopting and pruning at start-up only from the same agent's ``.status.json``."""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path

import pytest
from fake_sources import FakeSource, agent_config
from fake_sources import spec as make_spec
from secrets_agent.config.load import Config
from secrets_agent.daemon.agent import Agent
from secrets_agent.sources.result import BackendUnavailableError


@pytest.fixture
def out(tmpfs_dir: Path) -> Path:
    return tmpfs_dir / "out"


@pytest.fixture
def source() -> FakeSource:
    source = FakeSource()
    for name in ("a", "b", "c", "d"):
        source.set(name, k=f"value-{name}")
    return source


def _config(out: Path, config_file: str | None, targets: list[str]) -> Config:
    config = agent_config(out, [make_spec(t) for t in targets])
    return dataclasses.replace(config, source=None if config_file is None else Path(config_file))


def _run(config: Config, source: FakeSource) -> Agent:
    agent = Agent(config, source=source)
    agent.sync_once()
    agent.stop()
    return agent


def test_status_records_the_identity(out: Path, source: FakeSource) -> None:
    _run(_config(out, "/etc/agent/a.toml", ["a"]), source)
    status = json.loads((out / ".status.json").read_text())
    assert status["agent"]["config"] == "/etc/agent/a.toml"


def test_the_same_config_edited_prunes_what_it_dropped(out: Path, source: FakeSource) -> None:
    _run(_config(out, "/etc/agent/a.toml", ["a", "b"]), source)
    source.secrets["a"] = BackendUnavailableError("down")
    second = _run(_config(out, "/etc/agent/a.toml", ["a", "c"]), source)
    assert not (out / "b").exists()
    assert (out / "a/k").read_bytes() == b"value-a"
    assert second.all_synced()  # a's file from the previous run counts as in place


def test_another_config_neither_prunes_nor_adopts(
    out: Path, source: FakeSource, caplog: pytest.LogCaptureFixture
) -> None:
    _run(_config(out, "/etc/agent/init.toml", ["a", "b"]), source)
    source.secrets["b"] = BackendUnavailableError("down")
    caplog.set_level(logging.WARNING)
    sidecar = _run(_config(out, "/etc/agent/sidecar.toml", ["b", "c"]), source)
    assert (out / "a/k").read_bytes() == b"value-a"
    assert (out / "b/k").read_bytes() == b"value-b"
    assert not sidecar.all_synced()  # b was written by the other agent: not adopted
    assert "/etc/agent/init.toml" in caplog.text and "its files are left alone" in caplog.text
    assert "configured here and by the agent with config /etc/agent/init.toml: b" in caplog.text
    source.secrets["b"] = source.secrets["a"]
    caplog.clear()
    _run(_config(out, "/etc/agent/init.toml", ["a", "b"]), source)
    assert (out / "c/k").read_bytes() == b"value-c"  # the init agent leaves the sidecar's file
    assert "/etc/agent/sidecar.toml" in caplog.text


def test_the_same_path_sharing_no_secret_is_not_pruned(
    out: Path, source: FakeSource, caplog: pytest.LogCaptureFixture
) -> None:
    _run(_config(out, "/etc/agent/config.toml", ["a", "b"]), source)
    caplog.set_level(logging.WARNING)
    _run(_config(out, "/etc/agent/config.toml", ["c"]), source)
    assert (out / "a/k").exists() and (out / "b/k").exists()
    assert "shares no secret" in caplog.text and "(a, b)" in caplog.text


def test_a_status_without_identity_is_adopted_but_not_pruned(out: Path, source: FakeSource) -> None:
    _run(_config(out, "/etc/agent/a.toml", ["a", "b"]), source)
    status = json.loads((out / ".status.json").read_text())
    del status["agent"]["config"]
    (out / ".status.json").write_text(json.dumps(status))
    source.secrets["a"] = BackendUnavailableError("down")
    second = _run(_config(out, "/etc/agent/a.toml", ["a"]), source)
    assert (out / "b/k").exists()
    assert second.all_synced()
