"""Crash: SIGKILL ``secrets-agent run --once`` of a large sync at random points, many times.

Each round rotates every secret in the dev server, starts the agent and kills it either at a
random moment of the whole run or at a random moment of its write phase (detected by the target
directory changing). After every kill: every file is a whole value of some earlier or the current
round (never partial, never missing), and the temp files a killed run left behind are gone once
the next run has started writing. A final complete run leaves no temp file and every value new.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from reliability_kit import agent_cmd, agent_env, record, temp_files, vault_toml


def _value(i: int, rnd: int) -> str:
    return f"<{i}|{rnd}|" + "y" * ((i * 7 + rnd * 13) % 300) + ">"


def _check(out: Path, n: int, rnd: int) -> tuple[int, int]:
    """(files checked, files lost: missing, unparsable, partial or from the future)."""
    lost = 0
    for i in range(n):
        path = out / "app" / f"s{i}"
        try:
            data = json.loads(path.read_bytes())
            text = data["k"]
            _, r, _ = text.split("|", 2)
            if int(r) > rnd or text != _value(i, int(r)):
                lost += 1
        except (OSError, ValueError, KeyError):
            lost += 1
    return n, lost


def _crash_rounds(vault: Any, tmpfs_dir: Path, *, secrets: int, rounds: int, seed: int) -> None:
    rng = random.Random(seed)
    out = tmpfs_dir / "out"
    paths = [f"app/s{i}" for i in range(secrets)]
    for i in range(secrets):
        vault.put_secret(paths[i], {"k": _value(i, 0)})
    config = tmpfs_dir / "agent.toml"
    auth = f'{{ method = "token", token = "{vault.root_token}" }}'
    config.write_text(vault_toml(out, vault.url, paths, auth=auth, fmt="json"))
    cmd = agent_cmd("run", "--once", "--config", str(config), level="warning")
    first = subprocess.run(cmd, env=agent_env(), capture_output=True, timeout=120)
    assert first.returncode == 0, first.stderr[-2000:]
    started = time.monotonic()
    subprocess.run(cmd, env=agent_env(), capture_output=True, timeout=120)
    full_run = time.monotonic() - started

    checked = lost = kills_in_write = leftovers_total = leftovers_not_cleaned = 0
    previous_leftovers: list[str] = []
    for rnd in range(1, rounds + 1):
        for i in range(secrets):
            vault.put_secret(paths[i], {"k": _value(i, rnd)})
        base = (out / "app").stat().st_mtime_ns
        in_write = rnd % 2 == 0
        proc = subprocess.Popen(
            cmd, env=agent_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        if in_write:
            deadline = time.monotonic() + 60
            while (out / "app").stat().st_mtime_ns == base and time.monotonic() < deadline:
                if proc.poll() is not None:
                    break
                time.sleep(0.0005)
            time.sleep(rng.uniform(0.0, 0.15))
        else:
            time.sleep(rng.uniform(0.0, full_run))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        wrote = (out / "app").stat().st_mtime_ns != base
        kills_in_write += int(wrote)
        if wrote:  # past prepare(): the previous run's temp files must be gone
            leftovers_not_cleaned += len(set(previous_leftovers) & set(temp_files(out)))
        c, bad = _check(out, secrets, rnd)
        checked += c
        lost += bad
        previous_leftovers = temp_files(out)
        leftovers_total += len(previous_leftovers)

    final = subprocess.run(cmd, env=agent_env(), capture_output=True, timeout=120)
    assert final.returncode == 0, final.stderr[-2000:]
    remaining = temp_files(out)
    _, stale = _check(out, secrets, rounds)
    not_latest = sum(
        1
        for i in range(secrets)
        if json.loads((out / "app" / f"s{i}").read_bytes())["k"] != _value(i, rounds)
    )
    record(
        f"crash: SIGKILL during run --once of {secrets} secrets",
        tried=rounds,
        lost=lost + len(remaining) + leftovers_not_cleaned + not_latest,
        unit="kills",
        files_checked=checked,
        kills_in_write_phase=kills_in_write,
        temps_left_by_kills=leftovers_total,
        temps_after_next_start=leftovers_not_cleaned + len(remaining),
    )
    assert lost == 0
    assert leftovers_not_cleaned == 0
    assert remaining == []
    assert stale == 0 and not_latest == 0
    assert kills_in_write >= rounds // 4
    assert not [n for n in os.listdir(out) if n.startswith(".tmp-")]


def test_sigkill_during_large_sync(vault: Any, tmpfs_dir: Path) -> None:
    _crash_rounds(vault, tmpfs_dir, secrets=600, rounds=12, seed=1)


@pytest.mark.soak
@pytest.mark.timeout(1800)
@pytest.mark.timeout(1800)
def test_sigkill_during_large_sync_soak(vault: Any, tmpfs_dir: Path) -> None:
    _crash_rounds(vault, tmpfs_dir, secrets=2000, rounds=200, seed=2)
