"""on_change commands: no shell, a scrubbed environment, a timeout, masked output."""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

import pytest
from secrets_agent.daemon.onchange import mask, run_on_change, scrubbed_environment


def test_runs_without_a_shell_and_reports_success(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    result = run_on_change(
        [sys.executable, "-c", f"open({str(marker)!r}, 'w').write('x')"], timeout=10, label="t"
    )
    assert result.ok
    assert marker.read_text() == "x"
    # A shell metacharacter is passed through literally, never interpreted.
    trap = tmp_path / "trap"
    result = run_on_change(["echo", f"$(touch {trap})"], timeout=10, label="t")
    assert result.ok
    assert not trap.exists()


def test_environment_is_scrubbed(tmp_path: Path, canary: str) -> None:
    out = tmp_path / "env"
    environ = {
        "PATH": "/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "LC_ALL": "C",
        "VAULT_TOKEN": canary,
        "AWS_SECRET_ACCESS_KEY": canary,
        "NOTIFY_SOCKET": "/run/systemd/notify",
        "CREDENTIALS_DIRECTORY": "/run/credentials/x",
        "DB_PASSWORD": canary,
    }
    code = f"import os,json; open({str(out)!r},'w').write(json.dumps(dict(os.environ)))"
    result = run_on_change(
        [sys.executable, "-c", code],
        timeout=10,
        label="t",
        environ=environ,
        extra_env={"SECRETS_AGENT_TARGET": "app"},
    )
    assert result.ok
    seen = out.read_text()
    assert canary not in seen
    assert "NOTIFY_SOCKET" not in seen
    assert "CREDENTIALS_DIRECTORY" not in seen
    assert '"LC_ALL": "C"' in seen
    assert '"SECRETS_AGENT_TARGET": "app"' in seen


def test_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    script = (
        "import subprocess,sys,time;"
        "p=subprocess.Popen([sys.executable,'-c','import time; time.sleep(60)']);"
        f"open({str(pidfile)!r},'w').write(str(p.pid));"
        "time.sleep(60)"
    )
    started = time.monotonic()
    result = run_on_change([sys.executable, "-c", script], timeout=1.0, label="t")
    assert result.timed_out and not result.ok
    assert time.monotonic() - started < 20
    grandchild = int(pidfile.read_text())
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{grandchild}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
            if state == "Z":
                break
        except FileNotFoundError:
            break
        time.sleep(0.05)
    else:
        pytest.fail("grandchild survived the timeout")


def test_failure_and_missing_command_do_not_raise() -> None:
    assert run_on_change(["false"], timeout=10, label="t").returncode == 1
    missing = run_on_change(["/nonexistent/cmd"], timeout=10, label="t")
    assert missing.returncode is None and missing.error


def test_output_is_logged_with_values_masked(caplog: pytest.LogCaptureFixture, canary: str) -> None:
    caplog.set_level(logging.DEBUG, logger="secrets_agent.daemon.onchange")
    result = run_on_change(
        ["echo", f"reloaded with {canary}"], timeout=10, label="app", secret_values=[canary]
    )
    assert result.ok
    assert "reloaded with <redacted>" in caplog.text
    assert canary not in caplog.text


def test_mask_refuses_when_a_value_is_too_short() -> None:
    assert mask("pw=ab", ["ab"]) is None
    assert mask("token=abcdef", [b"abcdef"]) == "token=<redacted>"
    assert scrubbed_environment({})["PATH"]
