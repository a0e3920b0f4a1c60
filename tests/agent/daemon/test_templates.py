"""Template outputs in the running agent, on the manual scheduler: written once every source has
data, re-rendered when a source's used fields change, last good file kept on failure, status
entries without values, reload."""

from __future__ import annotations

import dataclasses
import json
import random
import stat
import sys
from pathlib import Path

import pytest
from fake_sources import FakeSource, agent_config
from fake_sources import spec as make_spec
from secrets_agent.config.schema import Config, TemplateSpec
from secrets_agent.daemon.agent import Agent
from secrets_agent.daemon.manual import ManualScheduler
from secrets_agent.sources.result import BackendUnavailableError, SecretData, SecretMissingError
from secrets_agent.status import format_status, read_status

TEXT = "url=postgres://{{ db.user }}:{{ db.password | urlquote }}@db/app\nkey={{ api.key }}\n"
APP = TemplateSpec(
    target="app.conf",
    template=TEXT,
    sources=(("db", "postgres"), ("api", "alpaca")),
    mode=0o440,
)


@pytest.fixture
def out(tmpfs_dir: Path) -> Path:
    return tmpfs_dir / "out"


def make_config(out: Path, *templates: TemplateSpec, db_interval: float = 60.0) -> Config:
    specs = [
        make_spec("postgres", db_interval, format="none"),
        make_spec("alpaca", 90.0),
    ]
    return dataclasses.replace(agent_config(out, specs), templates=templates or (APP,))


def started(config: Config, source: FakeSource) -> tuple[Agent, ManualScheduler]:
    scheduler = ManualScheduler()
    agent = Agent(
        config, source=source, clock=scheduler.clock, scheduler=scheduler, rng=random.Random(3)
    )
    return agent, scheduler


def test_written_once_every_source_has_data_then_rerendered_on_rotation(out: Path) -> None:
    source = FakeSource()
    source.set("postgres", user="app", password="p@ss/1")
    agent, scheduler = started(make_config(out), source)
    report = agent.sync_once()  # alpaca is missing: nothing may be written
    assert not (out / "app.conf").exists()
    assert "app.conf" not in report.failed and not report.ok  # the source's failure reports it
    (template,) = agent.template_states()
    assert template.waiting_for == ["api"] and template.files == []

    source.set("alpaca", key="K1", other="x")
    agent.start()
    try:
        scheduler.advance(5)  # alpaca's retry after its backoff
        assert (out / "app.conf").read_text() == "url=postgres://app:p%40ss%2F1@db/app\nkey=K1\n"
        assert stat.S_IMODE((out / "app.conf").stat().st_mode) == 0o440
        assert not (out / "postgres").exists()  # format = "none": no file of its own
        first = (out / "app.conf").stat().st_ino

        source.set("alpaca", version="2", key="K1", other="changed")  # an unused field
        scheduler.advance(100)
        assert (out / "app.conf").stat().st_ino == first  # not rewritten

        source.set("postgres", version="2", user="app", password="rotated")
        scheduler.advance(100)
        assert (out / "app.conf").read_text() == "url=postgres://app:rotated@db/app\nkey=K1\n"
        (template,) = agent.template_states()
        assert template.waiting_for == [] and template.last_error is None
        assert template.changed_at == template.rendered_at
    finally:
        agent.stop()


def test_a_failing_source_keeps_the_last_good_file(out: Path) -> None:
    source = FakeSource()
    source.set("postgres", user="app", password="one")
    source.set("alpaca", key="K1")
    agent, scheduler = started(make_config(out), source)
    assert agent.sync_once().ok
    good = (out / "app.conf").read_bytes()
    agent.start()
    try:
        source.secrets["postgres"] = SecretMissingError("deleted", path="postgres")
        scheduler.advance(200)
        assert (out / "app.conf").read_bytes() == good  # kept
        assert agent.template_states()[0].last_error is None  # the secret's row says why
        # postgres's last good fields stay in use, as its own files would: alpaca's rotation
        # is written with them.
        source.set("alpaca", version="2", key="K2")
        scheduler.advance(200)
        assert (out / "app.conf").read_bytes() == good.replace(b"K1", b"K2")

        source.set("postgres", version="3", user="app")  # the field "password" is gone
        scheduler.advance(400)
        assert (out / "app.conf").read_bytes() == good.replace(b"K1", b"K2")
        (template,) = agent.template_states()
        assert template.last_error == (
            "render failed: template uses field 'password' of source 'db', which that secret lacks"
        )
        assert template.consecutive_failures == 1  # rendered once per change, not per fetch
    finally:
        agent.stop()


def test_status_file_lists_the_output_its_sources_and_error_never_values(out: Path) -> None:
    source = FakeSource()
    source.set("postgres", user="app", password="hunter2-value")
    agent, scheduler = started(make_config(out), source)
    agent.sync_once()
    document = read_status(out)
    assert document["templates"] == [
        {
            "target": "app.conf",
            "sources": {"db": "postgres", "api": "alpaca"},
            "waiting_for": ["api"],
            "rendered_at": None,
            "changed_at": None,
            "last_error": None,
            "consecutive_failures": 0,
            "errors_total": 0,
            "files": [],
        }
    ]
    assert document["agent"]["healthy"] is False  # alpaca fails
    text = format_status(document, now=scheduler.now)
    assert "app.conf (template)" in text and "waiting for source(s) api" in text
    source.set("alpaca", key="K1")
    agent.sync_once()
    raw = (out / ".status.json").read_text()
    assert "hunter2-value" not in raw and "K1" not in raw
    assert json.loads(raw)["templates"][0]["files"] == ["app.conf"]
    agent.stop()


def test_on_change_runs_when_the_output_changed(out: Path, tmp_path: Path) -> None:
    log_file = tmp_path / "runs"
    code = (
        f"import os; open({str(log_file)!r}, 'a').write(os.environ['SECRETS_AGENT_TARGET'] + ';')"
    )
    app = dataclasses.replace(APP, on_change=(sys.executable, "-c", code))
    source = FakeSource()
    source.set("postgres", user="app", password="one")
    source.set("alpaca", key="K1")
    agent = Agent(make_config(out, app), source=source, rng=random.Random(1))
    agent.sync_once()
    agent.sync_once()  # same content: no command
    assert log_file.read_text() == "app.conf;"
    source.set("postgres", version="2", user="app", password="two")
    agent.sync_once()
    assert log_file.read_text() == "app.conf;app.conf;"
    agent.stop()


def test_a_source_that_is_not_an_object_is_the_outputs_error(out: Path) -> None:
    source = FakeSource()
    source.set("postgres", user="app", password="one")
    source.secrets["alpaca"] = SecretData(fields=None, raw="plain", version="1")
    agent = Agent(make_config(out), source=source)
    report = agent.sync_once()
    assert report.failed == {
        "app.conf": "render failed: source 'api' (alpaca) is not a JSON object and has no fields"
    }
    assert not (out / "app.conf").exists()
    agent.stop()


def test_reload_renders_a_changed_template_and_prunes_a_removed_one(out: Path) -> None:
    source = FakeSource()
    source.set("postgres", user="app", password="one", port="5432")
    source.set("alpaca", key="K1")
    extra = TemplateSpec(target="extra", template="{{ a.key }}", sources=(("a", "alpaca"),))
    agent = Agent(make_config(out, APP, extra), source=source)
    agent.sync_once()
    assert (out / "extra").read_text() == "K1"
    calls = len(source.calls)

    changed = dataclasses.replace(APP, template="pw={{ db.password }}\n{{ api.key }}")
    agent.reload(make_config(out, changed))
    assert not (out / "extra").exists()
    assert (out / "app.conf").read_text() == "pw=one\nK1"
    assert len(source.calls) == calls  # the fields were at hand: no fetch

    wider = dataclasses.replace(APP, template="port={{ db.port }} {{ api.key }}")
    agent.reload(make_config(out, wider))  # a field that was not kept: fetched at once
    assert (out / "app.conf").read_text() == "port=5432 K1"
    assert len(source.calls) > calls
    agent.stop()


def test_a_backend_outage_keeps_the_file_and_recovery_rerenders(out: Path) -> None:
    source = FakeSource()
    source.set("postgres", user="app", password="one")
    source.set("alpaca", key="K1")
    agent, scheduler = started(make_config(out), source)
    agent.sync_once()
    good = (out / "app.conf").read_bytes()
    agent.start()
    try:
        source.error = BackendUnavailableError("sealed")
        scheduler.advance(300)
        assert (out / "app.conf").read_bytes() == good
        source.error = None
        source.set("postgres", version="2", user="app", password="two")
        scheduler.advance(600)
        assert b"app:two@" in (out / "app.conf").read_bytes()
    finally:
        agent.stop()


def test_a_failed_write_is_retried_with_the_next_fetch(out: Path) -> None:
    source = FakeSource()
    source.set("postgres", user="app", password="one")
    source.set("alpaca", key="K1")
    agent = Agent(make_config(out), source=source)
    agent.sync_once()  # prepares output_dir
    (out / "app.conf").unlink()
    (out / "app.conf").mkdir()  # something else holds the name: the write must fail
    source.set("postgres", version="2", user="app", password="two")
    report = agent.sync_once()
    assert report.failed["app.conf"].startswith("write failed:")
    assert agent.template_states()[0].consecutive_failures == 1
    (out / "app.conf").rmdir()
    agent.sync_once()  # same data: the output is still owed its write
    assert b"app:two@" in (out / "app.conf").read_bytes()
    assert agent.template_states()[0].last_error is None
    agent.stop()


def test_ready_waits_for_every_template_output(out: Path) -> None:
    from secrets_agent.notify import Notifier

    class Readies(Notifier):
        def __init__(self) -> None:
            super().__init__(None)
            self.count = 0

        def ready(self, status: str | None = None) -> None:
            self.count += 1

    source = FakeSource()
    source.set("postgres", user="app")  # no "password": the template cannot be rendered yet
    source.set("alpaca", key="K1")
    scheduler = ManualScheduler()
    notifier = Readies()
    agent = Agent(
        make_config(out),
        source=source,
        notifier=notifier,
        clock=scheduler.clock,
        scheduler=scheduler,
        rng=random.Random(3),
    )
    assert not agent.sync_once().ok  # every secret is in place, the template output is not
    assert not agent.all_synced()
    agent.announce_ready()
    agent.start()
    try:
        scheduler.advance(30)
        assert notifier.count == 0
        status = json.loads((out / ".status.json").read_text())
        assert status["agent"]["ready"] is False
        source.set("postgres", version="2", user="app", password="pw")
        scheduler.advance(70)  # postgres's next refresh (60 s) renders the output
        assert (out / "app.conf").exists()
        assert notifier.count == 1 and agent.all_synced()
    finally:
        agent.stop()
