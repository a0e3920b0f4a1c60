"""refresh(): called directly with a fake clock, real tmpfs writes."""

from __future__ import annotations

from pathlib import Path

import pytest
from secrets_agent.config.load import SecretSpec
from secrets_agent.daemon.refresh import refresh
from secrets_agent.daemon.state import SecretState
from secrets_agent.sources.result import BackendUnavailableError, SecretData, SecretMissingError
from secrets_agent.writer.writer import SecretWriter

NOW = 1_700_000_000.0


@pytest.fixture
def writer(tmpfs_dir: Path) -> SecretWriter:
    w = SecretWriter(tmpfs_dir / "out")
    w.prepare()
    return w


def _spec(**kw: object) -> SecretSpec:
    values: dict[str, object] = {"path": "app", "target": "app", "refresh_interval": 60.0}
    values.update(kw)
    return SecretSpec(**values)  # type: ignore[arg-type]


def _data(version: str = "1", **fields: str) -> SecretData:
    fields = fields or {"user": "u", "password": "p1"}
    return SecretData(fields=fields, raw="{}", version=version)


def _snapshot(root: Path) -> dict[str, tuple[int, bytes, int]]:
    return {
        str(p.relative_to(root)): (p.stat().st_ino, p.read_bytes(), p.stat().st_mode & 0o777)
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_success_writes_files_and_updates_the_state(writer: SecretWriter) -> None:
    state = SecretState(path="app", target="app")
    result = refresh(_spec(), _data(), writer, state, now=NOW)
    assert result.ok and result.changed
    root = writer.output_dir
    assert (root / "app/password").read_bytes() == b"p1"
    assert (root / "app/password").stat().st_mode & 0o777 == 0o400
    assert state.files == ["app/password", "app/user"]
    assert state.version == "1" and state.fetched_at == NOW and state.changed_at == NOW
    assert state.next_refresh_at is None  # scheduling is the policy's business


def test_unchanged_secret_costs_no_write(writer: SecretWriter) -> None:
    state = SecretState(path="app", target="app")
    refresh(_spec(), _data(), writer, state, now=NOW)
    before = _snapshot(writer.output_dir)
    result = refresh(_spec(), _data(), writer, state, now=NOW + 60)
    assert result.ok and not result.changed
    assert _snapshot(writer.output_dir) == before  # same inodes: nothing replaced
    assert state.changed_at == NOW and state.fetched_at == NOW + 60


def test_failure_keeps_files_and_counts_failures(writer: SecretWriter) -> None:
    state = SecretState(path="app", target="app")
    refresh(_spec(), _data(), writer, state, now=NOW)
    before = _snapshot(writer.output_dir)
    for i in range(1, 9):
        now = NOW + i * 100
        result = refresh(_spec(), BackendUnavailableError("down"), writer, state, now=now)
        assert not result.ok and result.error == "down"
    assert state.consecutive_failures == 8 and state.errors_total == 8
    assert state.last_error == "down" and state.fetched_at == NOW
    assert _snapshot(writer.output_dir) == before
    ok = refresh(_spec(), _data(), writer, state, now=NOW + 1000)
    assert ok.ok and state.consecutive_failures == 0 and state.last_error is None
    assert state.errors_total == 8


def test_retry_after_is_passed_on(writer: SecretWriter) -> None:
    state = SecretState(path="app", target="app")
    error = BackendUnavailableError("throttled", retry_after=45.0)
    result = refresh(_spec(), error, writer, state, now=NOW)
    assert result.retry_after == 45.0 and state.consecutive_failures == 1


def test_missing_secret_keeps_files_and_is_flagged(writer: SecretWriter) -> None:
    state = SecretState(path="app", target="app")
    refresh(_spec(), _data(), writer, state, now=NOW)
    before = _snapshot(writer.output_dir)
    result = refresh(_spec(), SecretMissingError("gone"), writer, state, now=NOW + 1)
    assert not result.ok and result.missing and state.missing
    assert _snapshot(writer.output_dir) == before
    refresh(_spec(), _data(), writer, state, now=NOW + 2)
    assert not state.missing


def test_render_error_keeps_the_last_good_file(writer: SecretWriter) -> None:
    spec = _spec(format="raw", field="password")
    state = SecretState(path="app", target="app")
    assert refresh(spec, _data(), writer, state, now=NOW).ok
    before = _snapshot(writer.output_dir)
    result = refresh(spec, _data(version="2", user="u"), writer, state, now=NOW + 1)
    assert not result.ok and "render failed" in (result.error or "")
    assert _snapshot(writer.output_dir) == before
    assert state.version == "1"


def test_rotation_replaces_content_and_removes_dropped_fields(writer: SecretWriter) -> None:
    state = SecretState(path="app", target="app")
    refresh(_spec(), _data(), writer, state, now=NOW)
    result = refresh(_spec(), _data(version="2", password="p2"), writer, state, now=NOW + 60)
    assert result.changed and result.written == ("app/password",)
    root = writer.output_dir
    assert (root / "app/password").read_bytes() == b"p2"
    assert not (root / "app/user").exists()
    assert state.files == ["app/password"] and state.version == "2"


def test_write_failure_is_a_failed_refresh(writer: SecretWriter) -> None:
    # A directory squatting on the target's file name makes the write fail.
    (writer.output_dir / "app").mkdir(mode=0o700)
    (writer.output_dir / "app" / "password").mkdir(mode=0o700)
    state = SecretState(path="app", target="app")
    result = refresh(_spec(), _data(), writer, state, now=NOW)
    assert not result.ok and "write failed" in (result.error or "")
    assert state.consecutive_failures == 1


def _raw(value: str | bytes, version: str) -> SecretData:
    return SecretData(fields=None, raw=value, version=version)


def test_secret_switching_between_raw_and_fields_changes_shape(writer: SecretWriter) -> None:
    state = SecretState(path="app", target="app")
    root = writer.output_dir
    assert refresh(_spec(), _raw("plain", "1"), writer, state, now=NOW).ok
    assert (root / "app").read_bytes() == b"plain" and state.files == ["app"]
    result = refresh(_spec(), _data(version="2"), writer, state, now=NOW + 60)
    assert result.ok and result.changed, result.error
    assert (root / "app").is_dir() and (root / "app/password").read_bytes() == b"p1"
    assert state.files == ["app/password", "app/user"]
    result = refresh(_spec(), _raw(b"\x00bin", "3"), writer, state, now=NOW + 120)
    assert result.ok and result.changed, result.error
    assert (root / "app").read_bytes() == b"\x00bin" and state.files == ["app"]
    assert sorted(p.name for p in root.iterdir() if not p.name.startswith(".")) == ["app"]
    assert not list(root.rglob(".tmp-*"))


def test_failed_shape_change_keeps_the_old_value(
    writer: SecretWriter, monkeypatch: pytest.MonkeyPatch
) -> None:
    from secrets_agent.writer import entries as reshape

    state = SecretState(path="app", target="app")
    refresh(_spec(), _raw("plain", "1"), writer, state, now=NOW)

    def full(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(reshape, "create_file", full)
    result = refresh(_spec(), _data(version="2"), writer, state, now=NOW + 60)
    assert not result.ok and "No space left" in (result.error or "")
    assert (writer.output_dir / "app").read_bytes() == b"plain"
    assert state.files == ["app"] and state.version == "1"
    assert not list(writer.output_dir.rglob(".tmp-*"))
    monkeypatch.undo()
    (writer.output_dir / "app").unlink()
    refresh(_spec(), _data(version="3"), writer, state, now=NOW + 120)
    (writer.output_dir / "app" / "notes").write_bytes(b"someone else's")
    result = refresh(_spec(), _raw("plain", "4"), writer, state, now=NOW + 180)
    assert not result.ok and "did not write" in (result.error or "")
    assert (writer.output_dir / "app" / "password").read_bytes() == b"p1"
    assert (writer.output_dir / "app" / "notes").read_bytes() == b"someone else's"


def test_shape_change_falls_back_to_two_renames(
    writer: SecretWriter, monkeypatch: pytest.MonkeyPatch
) -> None:
    from secrets_agent.writer import entries as reshape

    def unsupported(*args: object) -> None:
        raise OSError(38, "Function not implemented")

    monkeypatch.setattr(reshape, "exchange", unsupported)
    state = SecretState(path="app", target="app")
    refresh(_spec(), _data(), writer, state, now=NOW)
    assert refresh(_spec(), _raw("plain", "2"), writer, state, now=NOW + 60).ok
    assert (writer.output_dir / "app").read_bytes() == b"plain"
    assert not list(writer.output_dir.rglob(".tmp-*"))
