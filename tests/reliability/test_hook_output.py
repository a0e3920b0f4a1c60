"""``on_change`` output never carries a value: a hook prints the env-escaped, JSON and
template-rendered forms of a canary value (read back from the files the agent wrote), their
JSON-escaped, base64 and hex forms and 9-character slices, padded so that the 2,000-character
cut falls inside them; ``secrets-agent run --once`` at ``--log-level debug``, with and without
``SECRETS_AGENT_ON_CHANGE_OUTPUT=masked``, against the dev server."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from reliability_kit import agent_cmd, agent_env, record
from secrets_agent.daemon.onchange import MAX_SHOWN_CHARS, OUTPUT_SWITCH
from secrets_agent.devserver import VaultDevServer

HOOK = """
import base64, json, os, sys
path = os.path.join(os.environ["SECRETS_AGENT_OUTPUT_DIR"], os.environ["SECRETS_AGENT_TARGET"])
text = open(path, encoding="utf-8").read()
pad = int(sys.argv[1])
forms = [text, json.dumps(text), base64.b64encode(text.encode()).decode(), text.encode().hex()]
out = "HOOK-START " + "x" * pad + "".join(forms)
out += "".join(text[i : i + 9] + " " for i in range(0, len(text) - 9, 4))
sys.stdout.write(out)
"""


def _windows(text: str, n: int = 8) -> set[str]:
    return {text[i : i + n] for i in range(len(text) - n + 1)}


@pytest.mark.parametrize("pad", [MAX_SHOWN_CHARS - 40, MAX_SHOWN_CHARS - 25, MAX_SHOWN_CHARS - 16])
def test_hook_output_never_carries_a_value(tmpfs_dir: Path, canary: str, pad: int) -> None:
    value = f"{canary}\"'\\$`x"
    hook = tmpfs_dir / "hook.py"
    hook.write_text(HOOK)
    out = tmpfs_dir / "out"
    on_change = f'on_change = ["{sys.executable}", "{hook}", "{pad}"]'
    with VaultDevServer() as vault:
        vault.put_secret("app/db", {"password": value, "user": "app-user"})
        config = tmpfs_dir / "config.toml"
        config.write_text(
            f'[agent]\noutput_dir = "{out}"\n'
            f'[backend]\ntype = "vault"\naddress = "{vault.url}"\n'
            f'auth = {{ method = "token", token = "{vault.root_token}" }}\n'
            f'[[secrets]]\npath = "app/db"\ntarget = "db.env"\nformat = "env"\n{on_change}\n'
            f'[[secrets]]\npath = "app/db"\ntarget = "db.json"\nformat = "json"\n{on_change}\n'
            f'[[secrets]]\npath = "app/db"\ntarget = "db.url"\nformat = "template"\n'
            f'template = "postgres://{{{{ user }}}}:{{{{ password }}}}@db/app"\n{on_change}\n'
        )
        config.chmod(0o600)
        logs = {}
        for shown in (True, False):
            env = agent_env(**({OUTPUT_SWITCH: "masked"} if shown else {}))
            for entry in out.glob("db.*"):
                entry.unlink()  # changed again: the hooks run again
            done = subprocess.run(
                agent_cmd("run", "--once", "--config", str(config)),
                env=env,
                capture_output=True,
                timeout=60,
                check=False,
            )
            assert done.returncode == 0, done.stderr.decode()[-2000:]
            logs[shown] = (done.stdout + done.stderr).decode()
        rendered = [(out / name).read_text() for name in ("db.env", "db.json", "db.url")]
    assert logs[True].count("HOOK-START xxxx") == 3  # the masked output was shown
    assert "HOOK-START" not in logs[False]  # and not without the switch
    assert logs[False].count("exit status 0, printed") == 3
    escaped = json.dumps(value)[1:-1]
    needles = _windows(value) | _windows(escaped)
    needles |= {w for r in rendered for w in _windows(r) if canary[:4] in w}
    hits = sum(1 for n in needles for text in logs.values() if n in text)
    cut = MAX_SHOWN_CHARS - pad - len("HOOK-START ")
    record(f"on_change output at DEBUG, the cut {cut} chars into a value",
           tried=len(needles), lost=hits, unit="needles", hooks=6)  # fmt: skip
    assert hits == 0
