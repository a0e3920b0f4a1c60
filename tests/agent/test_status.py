"""The status file: atomic, 0640, every state field, never a value; and its human table."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from secrets_agent.config.load import SecretSpec
from secrets_agent.daemon.state import SecretState
from secrets_agent.render.formats import render
from secrets_agent.sources.result import SecretData
from secrets_agent.status import (
    STATUS_FILE,
    StatusError,
    config_identity,
    format_status,
    read_status,
    write_status,
)
from secrets_agent.writer.writer import SecretWriter

NOW = 1_700_000_000.0
INFO = {
    "pid": 4242,
    "started_at": NOW - 7500,
    "backend": "vault",
    "healthy": False,
    "config": Path("/etc/secrets-agent/agent.toml"),
}


def states() -> list[SecretState]:
    good = SecretState(
        path="alpaca",
        target="alpaca",
        version="7",
        fetched_at=NOW - 62,
        changed_at=NOW - 3600,
        last_attempt_at=NOW - 62,
        next_refresh_at=NOW + 238,
        fetch_seconds=0.012,
        files=["alpaca/api_key_id", "alpaca/secret"],
    )
    bad = SecretState(
        path="db/prod",
        target="db.env",
        last_attempt_at=NOW - 5,
        next_refresh_at=NOW - 5,
        last_error="backend unavailable: Vault is sealed\n(503)",
        consecutive_failures=3,
        errors_total=9,
    )
    gone = SecretState(path="old", target="old", version="2", fetched_at=NOW - 10, missing=True)
    return [good, bad, gone]


@pytest.fixture
def writer(tmpfs_dir: Path) -> SecretWriter:
    w = SecretWriter(tmpfs_dir / "out")
    w.prepare()
    return w


def test_write_and_read_round_trip(writer: SecretWriter) -> None:
    write_status(writer, states(), INFO, now=NOW)
    path = writer.output_dir / STATUS_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    doc = read_status(writer.output_dir)
    assert doc["format"] == 1 and doc["written_at"] == NOW
    assert doc["agent"] == {**INFO, "config": "/etc/secrets-agent/agent.toml"}
    secrets = doc["secrets"]
    assert isinstance(secrets, list)
    assert [s["target"] for s in secrets] == ["alpaca", "db.env", "old"]
    first = secrets[0]
    assert set(first) == {
        "target", "path", "version", "fetched_at", "changed_at", "last_attempt_at",
        "next_refresh_at", "last_error", "consecutive_failures", "errors_total",
        "fetch_seconds", "missing", "files",
    }  # fmt: skip
    assert first["files"] == ["alpaca/api_key_id", "alpaca/secret"]
    assert secrets[1]["consecutive_failures"] == 3
    assert secrets[2]["missing"] is True


def test_unchanged_status_is_not_rewritten(writer: SecretWriter) -> None:
    write_status(writer, states(), INFO, now=NOW)
    before = (writer.output_dir / STATUS_FILE).stat()
    write_status(writer, states(), INFO, now=NOW)
    after = (writer.output_dir / STATUS_FILE).stat()
    assert (before.st_ino, before.st_mtime_ns) == (after.st_ino, after.st_mtime_ns)
    write_status(writer, states(), INFO, now=NOW + 1)
    assert (writer.output_dir / STATUS_FILE).stat().st_ino != before.st_ino


def test_status_never_holds_values(writer: SecretWriter, canary: str) -> None:
    spec = SecretSpec(path="alpaca", target="alpaca")
    files = render(spec, SecretData(fields={"api_key_id": canary}, raw=json.dumps({"k": canary})))
    for relpath, content in files.items():
        writer.write(relpath, content, mode=0o400)
    state = SecretState(path="alpaca", target="alpaca", files=sorted(files), fetched_at=NOW)
    write_status(writer, [state], INFO, now=NOW)
    text = (writer.output_dir / STATUS_FILE).read_text()
    assert canary not in text
    assert canary not in format_status(read_status(writer.output_dir), now=NOW)


def test_read_status_errors(tmpfs_dir: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_status(tmpfs_dir)
    (tmpfs_dir / STATUS_FILE).write_text("{not json")
    with pytest.raises(StatusError, match="not valid JSON"):
        read_status(tmpfs_dir)
    (tmpfs_dir / STATUS_FILE).write_text("[1, 2]")
    with pytest.raises(StatusError, match="not a status document"):
        read_status(tmpfs_dir)


def test_read_status_does_not_follow_symlinks_or_block_on_fifos(tmpfs_dir: Path) -> None:
    real = tmpfs_dir / "real.json"
    real.write_text('{"secrets": []}')
    (tmpfs_dir / STATUS_FILE).symlink_to(real)
    with pytest.raises(OSError):
        read_status(tmpfs_dir)
    (tmpfs_dir / STATUS_FILE).unlink()
    os.mkfifo(tmpfs_dir / STATUS_FILE)
    with pytest.raises(StatusError):
        read_status(tmpfs_dir)


def test_format_status_table(writer: SecretWriter) -> None:
    write_status(writer, states(), INFO, now=NOW)
    text = format_status(read_status(writer.output_dir), now=NOW)
    lines = text.splitlines()
    assert lines[0] == (
        "agent pid 4242, backend vault, UNHEALTHY, started 2h05m ago, status written 0s ago,"
        " config /etc/secrets-agent/agent.toml"
    )
    assert lines[1].split() == ["TARGET", "VERSION", "AGE", "NEXT", "REFRESH", "LAST", "ERROR"]
    assert lines[2].split() == ["alpaca", "7", "1m02s", "in", "3m58s", "-"]
    assert lines[3].split()[:5] == ["db.env", "-", "never", "overdue", "5s"]
    assert lines[3].endswith("backend unavailable: Vault is sealed (503) (3 failures in a row)")
    assert lines[4].endswith("missing in backend (file kept)")
    columns = {line.index(line.split()[2]) for line in lines[2:]}
    assert len(columns) == 1  # AGE column aligned


def test_a_not_found_error_is_not_called_a_missing_secret() -> None:
    # "missing" covers a secret, a field and a version stage: the error says which one.
    stage = "AWS secret 'db' has no version labelled 'BLUE'"
    entries = [
        {"target": "db", "missing": True, "last_error": stage, "files": []},
        {"target": "kept", "missing": True, "last_error": stage, "files": ["kept/pw"]},
    ]
    lines = format_status({"secrets": entries}, now=NOW).splitlines()
    assert lines[2].endswith(f"  {stage}")
    assert lines[3].endswith(f"  file kept; {stage}")
    assert "missing" not in "".join(lines[2:])


def test_format_status_tolerates_sparse_documents() -> None:
    text = format_status({"secrets": [{"target": "x"}, "junk"]}, now=NOW)
    assert text.splitlines()[0].startswith("agent pid ?, backend ?, health unknown")
    assert text.splitlines()[2].split() == ["x", "-", "never", "-", "-"]


def test_table_header_reports_a_rejected_reload(writer: SecretWriter) -> None:
    info = dict(INFO, reload_error=["config.toml: invalid TOML: Expected '=' (at line 1)"])
    write_status(writer, states(), info, now=NOW)
    head = format_status(read_status(writer.output_dir), now=NOW).splitlines()[0]
    assert "RELOAD FAILED (previous config in force): config.toml: invalid TOML" in head
    write_status(writer, states(), dict(INFO, reload_error=None), now=NOW)
    assert "RELOAD" not in format_status(read_status(writer.output_dir), now=NOW)


def test_identity_is_the_config_path_without_following_symlinks(tmp_path: Path) -> None:
    (tmp_path / "..2026_12_01").mkdir()
    (tmp_path / "..2026_12_01/config.toml").write_text("")
    (tmp_path / "config.toml").symlink_to("..2026_12_01/config.toml")
    assert config_identity(tmp_path / "x/../config.toml") == str(tmp_path / "config.toml")
    assert config_identity(None) is None


def test_template_outputs_are_listed_after_the_secrets() -> None:
    from secrets_agent.status import status_text

    entries = [
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
        },
        {
            "target": "b.conf",
            "sources": {"db": "postgres"},
            "waiting_for": [],
            "rendered_at": 90.0,
            "changed_at": 90.0,
            "last_error": "render failed: template uses field 'x' of source 'db', which ...",
            "consecutive_failures": 2,
            "errors_total": 2,
            "files": ["b.conf"],
        },
    ]
    document = json.loads(status_text([], {"pid": 1}, now=100.0, templates=entries))
    assert document["secrets"] == [] and document["templates"] == entries
    assert "templates" not in json.loads(status_text([], {"pid": 1}, now=100.0))
    lines = format_status(document, now=100.0).splitlines()
    assert lines[2].split() == [
        "app.conf", "(template)", "from", "db=postgres,api=alpaca", "never", "with", "its",
        "sources", "waiting", "for", "source(s)", "api", "(nothing", "written)",
    ]  # fmt: skip
    assert lines[3].startswith("b.conf (template)") and "10s" in lines[3]
    assert lines[3].endswith("render failed: template uses field 'x' of source 'db', which ..."
                             " (2 failures in a row)")  # fmt: skip
