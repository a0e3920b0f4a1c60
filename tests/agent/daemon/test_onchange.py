"""on_change commands: no shell, a scrubbed environment, a timeout, masked output."""

from __future__ import annotations

import base64
import json
import logging
import sys
import time
from pathlib import Path

import pytest
from secrets_agent.daemon.onchange import (
    MAX_SHOWN_CHARS,
    OUTPUT_SWITCH,
    mask,
    output_wanted,
    run_on_change,
    scrubbed_environment,
)


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


def test_output_is_not_logged_unless_asked_for(
    caplog: pytest.LogCaptureFixture, canary: str
) -> None:
    caplog.set_level(logging.DEBUG, logger="secrets_agent.daemon.onchange")
    result = run_on_change(
        ["echo", f"reloaded with {canary} MARKER"],
        timeout=10,
        label="app",
        secret_values=[canary],
        environ={},
    )
    assert result.ok and result.output_bytes == len(f"reloaded with {canary} MARKER\n")
    assert "MARKER" not in caplog.text
    assert f"printed {result.output_bytes} bytes" in caplog.text
    assert canary not in caplog.text


def test_output_is_logged_with_values_masked_when_asked_for(
    caplog: pytest.LogCaptureFixture, canary: str
) -> None:
    caplog.set_level(logging.DEBUG, logger="secrets_agent.daemon.onchange")
    result = run_on_change(
        ["echo", f"reloaded with {canary}"],
        timeout=10,
        label="app",
        secret_values=[canary],
        show_output=True,
    )
    assert result.ok
    assert "reloaded with <redacted>" in caplog.text
    assert canary not in caplog.text
    assert output_wanted({OUTPUT_SWITCH: "masked"}) and not output_wanted({OUTPUT_SWITCH: "1"})


def _windows(value: str, n: int = 8) -> list[str]:
    return [value[i : i + n] for i in range(len(value) - n + 1)]


def test_attack_rendered_forms_split_by_the_cut_are_masked(
    caplog: pytest.LogCaptureFixture, tmp_path: Path, canary: str
) -> None:
    """A hook prints the env-escaped, JSON-escaped, template and base64 forms of a value and
    slices of it, padded so that the 2,000-character cut falls inside one of them."""
    value = f'{canary}"\\$`x\nline2-{canary[::-1]}'
    env_form = 'DB_PASSWORD="' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    template = f"pw={value}!"
    rendered = [env_form.encode(), json.dumps({"password": value}).encode(), template.encode()]
    forms = [
        value,
        canary,
        json.dumps(value)[1:-1],
        env_form,
        template,
        base64.b64encode(value.encode()).decode(),
        value.encode().hex(),
    ]
    leaked = 0
    for cut_at in range(1, 40):
        caplog.clear()
        script = tmp_path / "hook.py"
        lines = [f"print('x' * {MAX_SHOWN_CHARS - cut_at}, end='')"]
        lines += [f"print({f!r})" for f in forms]
        lines += [f"print({value[i : i + 9]!r})" for i in range(0, len(value) - 9, 5)]
        script.write_text("\n".join(lines) + "\n")
        caplog.set_level(logging.DEBUG, logger="secrets_agent.daemon.onchange")
        result = run_on_change(
            [sys.executable, str(script)],
            timeout=10,
            label="app",
            secret_values=[value, *rendered],
            show_output=True,
        )
        assert result.ok and result.output_bytes > MAX_SHOWN_CHARS
        text = "\n".join(r.getMessage() for r in caplog.records)
        assert "(masked): xxxxxxxx" in text  # the output was shown
        assert cut_at < len("<redacted>") or "<redacted>" in text
        needles = {n for f in forms for n in _windows(f)}
        leaked += sum(1 for n in needles if n in text)
    assert leaked == 0


def test_mask_refuses_when_a_value_is_too_short() -> None:
    assert mask("pw=ab", ["ab"]) is None
    assert mask("token=abcdef", [b"abcdef"]) == "token=<redacted>"
    assert mask("a 0123456789abcdef z", ["x-89abcdef01-x"], limit=5) == "a 012"
    assert mask("a 0123456789abcdef z", ["x-89abcdef01-x"]) == "a 01234567<redacted> z"
    assert scrubbed_environment({})["PATH"]
