"""Helpers of the reliability suite: scenario records, process and file helpers.

``record()`` collects what each scenario tried and what it lost; the conftest prints the table
at the end of the run (and writes it as JSON when ``RELIABILITY_SUMMARY`` names a file).
"""

from __future__ import annotations

import json
import os
import random
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

RESULTS: list[dict[str, Any]] = []
_RESULTS_LOCK = threading.Lock()


def record(scenario: str, *, tried: int, lost: int, unit: str = "", **extra: Any) -> None:
    """Note one scenario's figures (and print them, visible with ``-s``)."""
    entry = {"scenario": scenario, "tried": tried, "lost": lost, "unit": unit, **extra}
    with _RESULTS_LOCK:
        RESULTS.append(entry)
    details = " ".join(f"{k}={v}" for k, v in extra.items())
    print(f"\n[reliability] {scenario}: tried {tried} {unit}, lost {lost} {details}".rstrip())


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(predicate: Callable[[], object], timeout: float, step: float = 0.02) -> float | None:
    """Seconds until ``predicate()`` was true, or None after ``timeout``."""
    start = time.monotonic()
    while True:
        if predicate():
            return time.monotonic() - start
        if time.monotonic() - start > timeout:
            return None
        time.sleep(step)


def snapshot(root: Path, *, dotfiles: bool = False) -> dict[str, tuple[int, bytes]]:
    """relpath -> (inode, content) of every regular file below ``root``."""
    result: dict[str, tuple[int, bytes]] = {}
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            if name.startswith(".") and not dotfiles:
                continue
            p = Path(dirpath, name)
            if p.is_symlink() or not p.is_file():
                continue
            result[str(p.relative_to(root))] = (p.stat().st_ino, p.read_bytes())
    return result


def temp_files(root: Path) -> list[str]:
    return [
        str(Path(d, n).relative_to(root))
        for d, _dirs, files in os.walk(root)
        for n in files
        if n.startswith(".tmp-")
    ]


def agent_env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "VAULT_TOKEN", "SECRETS_AGENT_LOG_LEVEL")
    }
    env.update(extra)
    return env


def agent_cmd(*args: str, level: str = "debug") -> list[str]:
    return [sys.executable, "-m", "secrets_agent", "--log-level", level, *args]


def vault_toml(
    out: Path,
    address: str,
    paths: Sequence[str],
    *,
    auth: str,
    interval: str = "5m",
    fmt: str = "fields",
    timeout: str = "2s",
    extra_agent: str = "",
    extra_secret: str = "",
) -> str:
    secrets = "".join(
        f'[[secrets]]\npath = "{p}"\nformat = "{fmt}"\n{extra_secret}\n' for p in paths
    )
    return (
        f'[agent]\noutput_dir = "{out}"\nrefresh_interval = "{interval}"\n{extra_agent}\n'
        f'[backend]\ntype = "vault"\naddress = "{address}"\nauth = {auth}\ntimeout = "{timeout}"\n'
        f"{secrets}"
    )


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (and its reaped children) from /proc/PID/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
    return ticks / os.sysconf("SC_CLK_TCK")


def run_as_nobody(argv: Sequence[str], timeout: float = 10) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        list(argv), capture_output=True, user=65534, group=65534, timeout=timeout, check=False
    )


def rng(seed: int | None = None) -> random.Random:
    return random.Random(seed if seed is not None else int(os.environ.get("RELIABILITY_SEED", "7")))


class Daemon:
    """``secrets-agent run --config FILE`` in a subprocess; stderr collected in the background."""

    def __init__(self, config: Path, out: Path, *, level: str = "debug", env: Any = None) -> None:
        self.out = out
        self.proc = subprocess.Popen(
            agent_cmd("run", "--config", str(config), level=level),
            env=env or agent_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self._chunks: list[bytes] = []
        self._readers = [
            threading.Thread(target=self._drain, args=(s,), daemon=True)
            for s in (self.proc.stdout, self.proc.stderr)
        ]
        for t in self._readers:
            t.start()

    def _drain(self, stream: Any) -> None:
        for line in iter(stream.readline, b""):
            self._chunks.append(line)

    @property
    def output(self) -> bytes:
        return b"".join(self._chunks)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def status(self) -> dict[str, Any]:
        try:
            return dict(json.loads((self.out / ".status.json").read_bytes()))
        except (OSError, ValueError):
            return {}

    def secrets(self) -> list[dict[str, Any]]:
        return list(self.status().get("secrets") or [])

    def all_ok_since(self, since: float) -> bool:
        entries = self.secrets()
        return bool(entries) and all(
            e["consecutive_failures"] == 0 and (e["fetched_at"] or 0) >= since for e in entries
        )

    def all_failing(self) -> bool:
        entries = self.secrets()
        return bool(entries) and all(e["consecutive_failures"] >= 1 for e in entries)

    def stop(self, sig: int = 15, timeout: float = 8) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        for t in self._readers:
            t.join(timeout=5)
        return int(self.proc.returncode)

    def __enter__(self) -> Daemon:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
