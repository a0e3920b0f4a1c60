"""Fresh-process helpers: server processes, ``-X importtime`` parsing, RSS probes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PYTHON = sys.executable


def child_env(**extra: str) -> dict[str, str]:
    """The current environment plus ``extra``, with bytecode writing off (warm .pyc only)."""
    env = dict(os.environ)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.update(extra)
    return env


class ServerProcess:
    """A helper script from this package running as a child with a line protocol on stdin."""

    def __init__(self, script: str, *args: str, timeout: float = 60.0) -> None:
        self.proc = subprocess.Popen(
            [PYTHON, str(HERE / script), *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=child_env(),
        )
        self.timeout = timeout
        line = self._readline()
        self.info: dict[str, Any] = json.loads(line)

    def _readline(self) -> str:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            code = self.proc.wait(self.timeout)
            raise RuntimeError(f"server process exited early with code {code}")
        return line.strip()

    def command(self, text: str) -> str:
        """Send one command line and return the one-line answer."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()
        answer = self._readline()
        if answer.startswith("error"):
            raise RuntimeError(answer)
        return answer

    def close(self) -> None:
        """Ask the child to quit; kill it if it does not."""
        if self.proc.poll() is None:
            try:
                assert self.proc.stdin is not None
                self.proc.stdin.write("quit\n")
                self.proc.stdin.close()
                self.proc.wait(10)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def http_json(url: str, *, method: str = "GET") -> Any:
    """Tiny JSON HTTP call for the benchmark servers' control endpoints (no proxies)."""
    req = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(req, timeout=30) as resp:
        return json.loads(resp.read() or b"null")


MARK = "--bench-mark--"


def warm_bytecode(statement: str, pycache_prefix: str) -> None:
    """Run an import ``statement`` once with bytecode writing on, into ``pycache_prefix``.

    This tree's environment may set PYTHONDONTWRITEBYTECODE, which leaves an editable install
    without any ``.pyc`` (every process would compile it from source, unlike a pip install).
    Writing the bytecode under a separate prefix leaves the source tree untouched.
    """
    env = child_env(PYTHONPYCACHEPREFIX=pycache_prefix)
    del env["PYTHONDONTWRITEBYTECODE"]
    subprocess.run([PYTHON, "-c", statement], env=env, check=True)


def importtime(statement: str, *, pycache_prefix: str | None = None) -> tuple[float, float]:
    """Run an import ``statement`` in a fresh interpreter; return (cumulative µs, wall ms).

    The cumulative figure is the sum of the top-level ``-X importtime`` entries logged after
    the interpreter's own start-up (a marker is written to stderr just before the import), so
    modules the start-up already loaded are not counted, exactly as ``-X importtime`` reports.
    With ``pycache_prefix`` (see :func:`warm_bytecode`) bytecode is read from there.
    """
    code = f"import sys; sys.stderr.write({MARK!r} + '\\n'); sys.stderr.flush(); {statement}"
    env = child_env() if pycache_prefix is None else child_env(PYTHONPYCACHEPREFIX=pycache_prefix)
    start = time.perf_counter_ns()
    out = subprocess.run(
        [PYTHON, "-X", "importtime", "-c", code],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    wall_ms = (time.perf_counter_ns() - start) / 1e6
    return parse_importtime(out.stderr), wall_ms


def parse_importtime(stderr: str) -> float:
    """Sum the cumulative µs of top-level entries after :data:`MARK` in ``-X importtime`` output."""
    _, found, after = stderr.partition(MARK)
    if not found:
        raise ValueError("marker not found in -X importtime output")
    total = 0.0
    for line in after.splitlines():
        if not line.startswith("import time:"):
            continue
        parts = line.split("|")
        if len(parts) != 3:
            continue
        name = parts[2]
        cumulative = parts[1].strip()
        if not cumulative.isdigit():
            continue  # the header line
        if name.startswith(" ") and not name.startswith("  "):
            total += float(cumulative)  # one leading space: a top-level import
    return total


def rss_mib(pid: int | str = "self") -> float:
    """VmRSS of a process in MiB, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("VmRSS not found")


def run_json(script: str, *args: str, timeout: float = 600.0) -> Any:
    """Run a helper script of this package in a fresh process; parse its last stdout line."""
    out = subprocess.run(
        [PYTHON, str(HERE / script), *args],
        capture_output=True,
        text=True,
        env=child_env(),
        timeout=timeout,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"{script} failed ({out.returncode}): {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])
