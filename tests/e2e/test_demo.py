"""`secrets-agent demo` end to end: it runs, says what it shows, never prints a value, and
leaves nothing behind; bad input fails cleanly with advice."""

from __future__ import annotations

import argparse
import os
import re
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

SHM = Path("/dev/shm")


def _demo(*args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    """Run ``python -m secrets_agent demo ARGS``; on a timeout, SIGTERM lets it clean up."""
    command = [sys.executable, "-m", "secrets_agent", "demo", *args]
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as process:
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.terminate()
            stdout, stderr = process.communicate(timeout=30)
            pytest.fail(f"the demo did not finish in {timeout:.0f} s:\n{stdout}\n{stderr}")
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)


def _removed_dir(output: str) -> Path:
    """The directory the demo says it created and removed; it must be gone."""
    match = re.search(r"removed (/\S+)", output)
    assert match, f"the demo did not report removing its directory:\n{output}"
    path = Path(match.group(1))
    assert path.parent == SHM
    assert path.name.startswith("secrets-agent-demo-")
    return path


def _process_mentions(text: str) -> list[int]:
    """PIDs (other than ours) whose command line mentions ``text``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if text in cmdline:
            found.append(int(entry.name))
    return found


def test_demo_runs_end_to_end_and_cleans_up() -> None:
    result = _demo()
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for expected in (
        "Vault-compatible dev server",
        "Seed secrets",
        "The agent: first sync",
        "-r--------",  # a 0400 secret file in the tree listing
        "alpaca/",
        "api_key_id",
        "is on tmpfs",
        "same as the value in Vault: yes",
        "file replaced -> reader returns new value:",
        "total propagation time:",
        "Outage: Vault is sealed",
        "all unchanged",
        "fresh again",
        "dev server stopped",
        "agent stopped",
        "removed /dev/shm/",
    ):
        assert expected in out, f"{expected!r} missing from the demo's output:\n{out}"
    assert "threads still running" not in out
    assert not _removed_dir(out).exists()
    assert not [line for line in out.splitlines() if "Traceback" in line]


def test_demo_keep_leaves_the_files_and_never_prints_a_value(tmpfs_dir: Path) -> None:
    target = tmpfs_dir / "demo"
    result = _demo("--dir", str(target), "--keep")
    assert result.returncode == 0, result.stderr
    secrets_dir = target / "secrets"
    assert (secrets_dir / "alpaca" / "api_key_id").is_file()
    assert not (target / "config.toml").exists()
    assert not (target / "vault_token").exists()
    files = [p for p in secrets_dir.rglob("*") if p.is_file() and not p.name.startswith(".")]
    assert len(files) >= 4
    output = result.stdout + result.stderr
    random_parts = {
        token for path in files for token in re.findall(r"[A-Za-z0-9_+/=-]{12,}", path.read_text())
    }
    assert len(random_parts) >= 4
    for token in random_parts:
        windows = {token[i : i + 8] for i in range(len(token) - 7)}
        leaked = [w for w in windows if w in output]
        assert not leaked, "part of a secret value appears in the demo's output"


def test_demo_in_process_leaves_no_thread(capsys: pytest.CaptureFixture[str]) -> None:
    from secrets_agent.demo import command as demo

    parser = argparse.ArgumentParser()
    demo.add_arguments(parser)
    before = set(threading.enumerate())
    assert demo.run(parser.parse_args([])) == 0
    leftover = [t for t in threading.enumerate() if t not in before and t.is_alive()]
    assert leftover == []
    assert not _removed_dir(capsys.readouterr().out).exists()


def test_demo_dir_with_missing_parent_fails_cleanly(tmpfs_dir: Path) -> None:
    target = tmpfs_dir / "no-such-parent" / "demo"
    result = _demo("--dir", str(target))
    assert result.returncode == 2
    assert "does not exist" in result.stderr
    assert "Traceback" not in result.stderr
    assert not target.parent.exists()
    assert list(tmpfs_dir.iterdir()) == []


def test_demo_refuses_a_directory_on_disk(tmp_path: Path) -> None:
    if Path("/proc/self/mounts").read_text().find(" / tmpfs ") != -1:
        pytest.skip("the root filesystem is tmpfs here")
    target = tmp_path / "demo"
    result = _demo("--dir", str(target))
    assert result.returncode == 2
    assert "not tmpfs or ramfs" in result.stderr
    assert not target.exists()


def test_demo_with_a_taken_port_says_so_and_leaves_nothing() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = _demo("--port", str(port))
    assert result.returncode == 2
    assert f"port {port}" in result.stderr
    assert "--port" in result.stderr
    assert "Traceback" not in result.stderr
    assert not _removed_dir(result.stdout).exists()
    assert _process_mentions(f"demo --port {port}") == []


def test_demo_without_a_tmpfs_says_what_to_do(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from secrets_agent.demo import command as demo
    from secrets_agent.demo import workspace as demo_env

    monkeypatch.setattr(demo_env, "DEFAULT_BASES", (Path("/nonexistent-shm-for-test"),))
    parser = argparse.ArgumentParser()
    demo.add_arguments(parser)
    assert demo.run(parser.parse_args([])) == 2
    err = capsys.readouterr().err
    assert "/nonexistent-shm-for-test does not exist" in err
    assert "--dir" in err
