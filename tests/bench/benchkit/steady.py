"""Measurements of an agent process against a real OpenBao: one-shot, steady state, rotation.

A :class:`Bench` owns one ``bao server -dev`` (with a file audit device), the secrets seeded
into it, a tmpfs work directory and one token per agent. Each measurement starts the agent from
a config file in a fresh output directory, and reads its cost from the kernel and its requests
from the audit log (see :mod:`benchkit.audit`). Outages are in :mod:`benchkit.outage`.
"""

from __future__ import annotations

import json
import secrets
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from benchkit import agent_procs, audit
from benchkit.agent_configs import FIELD, PREFIX, Side, path_of, target_of
from benchkit.openbao_proc import Api, OpenBao

DATA_PREFIX = f"secret/data/{PREFIX}/"
LIST_PREFIX = f"secret/detailed-metadata/{PREFIX}"  # the listings that confirm secrets


@dataclass(frozen=True)
class OneShotResult:
    count: int
    wall_s: float
    cpu_s: float
    max_rss_mib: float
    requests: int
    files: int
    exit_code: int


@dataclass(frozen=True)
class SteadyResult:
    count: int
    interval_s: float
    first_sync_s: float | None
    window_s: float
    reads: int
    confirmed: int  # refreshes the agent confirmed from a listing instead of a read
    requests: int
    cpu_s: float
    rss_median_mib: float
    rss_max_mib: float
    peak_mib: float

    @property
    def due(self) -> float:
        return self.count * self.window_s / self.interval_s

    @property
    def refreshes(self) -> int:
        return self.reads + self.confirmed

    @property
    def keep_up(self) -> float:
        return self.refreshes / self.due

    @property
    def cpu_per_refresh_ms(self) -> float | None:
        return 1000 * self.cpu_s / self.refreshes if self.refreshes else None

    @property
    def core_pct(self) -> float:
        return 100 * self.cpu_s / self.window_s


class Bench:
    """One OpenBao dev server, its audit log, a tmpfs work directory and the agents' tokens."""

    def __init__(self, bao: str) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="bench-steady-", dir="/dev/shm"))
        self.server = OpenBao(bao, self.root)
        self.audit = audit.AuditLog(self.server.audit_path)
        self.seeded: set[int] = set()  # the sizes of the sets written (``path_of``)
        self._runs = 0
        self.configs: dict[str, str] = {}

    def close(self) -> None:
        self.server.close()
        shutil.rmtree(self.root, ignore_errors=True)

    def ensure_seeded(self, count: int, threads: int = 4) -> None:
        """Write the set of ``count`` secrets ``bench/n<count>/s<i>`` once (four connections
        in parallel)."""
        if count in self.seeded:
            return
        todo = list(range(count))
        errors: list[BaseException] = []

        def worker(part: list[int]) -> None:
            api = Api(self.server.port)
            try:
                for i in part:
                    api.put_kv(path_of(i, count), {"username": f"user{i}", FIELD: value(i)})
            except BaseException as exc:
                errors.append(exc)
            finally:
                api.reset()

        pool = [threading.Thread(target=worker, args=(todo[k::threads],)) for k in range(threads)]
        for t in pool:
            t.start()
        for t in pool:
            t.join()
        if errors:
            raise errors[0]
        self.seeded.add(count)

    def token_file(self, side: Side) -> Path:
        path = self.root / f"{side.token_name}.token"
        if not path.exists():
            reads_only = f"{PREFIX}/" if getattr(side, "reads_only", False) else None
            path.write_text(self.server.create_token(side.token_name, read_only=reads_only))
            path.chmod(0o600)
        return path

    def prepare(self, side: Side, count: int, interval: str, *, once: bool) -> tuple[Path, Path]:
        """A fresh output directory and the side's config for it; returns (config, out)."""
        self.ensure_seeded(count)
        self._runs += 1
        run = self.root / f"run{self._runs:03d}"
        run.mkdir(mode=0o700)
        out = run / "out"
        text = side.config_text(
            self.server.url, self.token_file(side), out, count, interval, once=once
        )
        config = run / f"agent{side.config_suffix}"
        config.write_text(text)
        mode = "one-shot" if once else f"refresh every {interval}"
        shown = text.replace(str(self.root), "$WORK").replace(self.server.url, "$BAO_ADDR")
        self.configs[f"{side.name}, {mode}"] = shown
        return config, out

    def one_shot(self, side: Side, count: int, timeout: float = 600.0) -> OneShotResult:
        config, out = self.prepare(side, count, "1h", once=True)
        start = self.audit.offset()
        got = agent_procs.run_once(side.command(config, once=True), out.parent / "log", timeout)
        time.sleep(0.2)  # let the audit log catch up
        answered, _ = self.audit.responses(start)
        return OneShotResult(
            count=count,
            wall_s=got.wall_s,
            cpu_s=got.cpu_s,
            max_rss_mib=got.max_rss_mib,
            requests=len(audit.by(answered, f"token-{side.token_name}")),
            files=agent_procs.count_files(out),
            exit_code=got.exit_code,
        )

    def start(self, side: Side, count: int, interval: str) -> tuple[agent_procs.Daemon, Path]:
        config, out = self.prepare(side, count, interval, once=False)
        return agent_procs.Daemon(side.command(config, once=False), out.parent / "log"), out

    def steady(
        self, side: Side, count: int, interval_s: float, warmup_s: float, window_s: float
    ) -> SteadyResult:
        """Start the agent, wait for its first full sync, let ``warmup_s`` pass, then measure
        reads, requests, CPU and RSS over ``window_s``."""
        start = self.audit.offset()
        daemon, out = self.start(side, count, f"{interval_s:g}s")
        try:
            first = daemon.wait_files(out, count, timeout=120 + count / 50)
            if first is None:
                raise RuntimeError(f"{side.name}: first sync of {count} secrets not done")
            time.sleep(warmup_s)
            daemon.sample_rss(True)
            cpu0, t0, confirmed0 = daemon.cpu(), time.time(), confirmed_total(out)
            time.sleep(window_s)
            cpu1, t1, confirmed1 = daemon.cpu(), time.time(), confirmed_total(out)
            daemon.sample_rss(False)
            rss_median, rss_max = daemon.rss()
            peak = daemon.peak()
        finally:
            daemon.stop()
        time.sleep(0.2)
        answered, _ = self.audit.responses(start)
        mine = audit.by(answered, f"token-{side.token_name}", t0, t1)
        return SteadyResult(
            count=count,
            interval_s=interval_s,
            first_sync_s=first,
            window_s=t1 - t0,
            reads=len(audit.secret_reads(mine, DATA_PREFIX)),
            confirmed=confirmed1 - confirmed0,
            requests=len(mine),
            cpu_s=cpu1 - cpu0,
            rss_median_mib=rss_median,
            rss_max_mib=rss_max,
            peak_mib=peak,
        )

    def rotation(
        self, side: Side, count: int, interval_s: float, rotate: int, timeout: float
    ) -> tuple[list[float], int]:
        """Write a new version of ``rotate`` secrets at once while the agent runs; return the
        seconds until each file changed on disk, and how many did not within ``timeout``."""
        daemon, out = self.start(side, count, f"{interval_s:g}s")
        try:
            if daemon.wait_files(out, count, timeout=120 + count / 50) is None:
                raise RuntimeError(f"{side.name}: first sync of {count} secrets not done")
            time.sleep(min(2.0, interval_s / 2))
            pending: dict[int, tuple[str, float]] = {}
            for i in range(0, count, max(1, count // rotate))[:rotate]:
                new = f"rotated-{secrets.token_hex(8)}"
                written = time.monotonic()
                self.server.api.put_kv(path_of(i, count), {"username": f"user{i}", FIELD: new})
                pending[i] = (new, written)
            latencies: list[float] = []
            deadline = time.monotonic() + timeout
            while pending and time.monotonic() < deadline:
                for i, (new, written) in list(pending.items()):
                    if read_text(out / target_of(i)) == new:
                        latencies.append(time.monotonic() - written)
                        del pending[i]
                time.sleep(0.01)
        finally:
            daemon.stop()
        return latencies, len(pending)


def confirmed_total(out: Path) -> int:
    """The agent's count of refreshes confirmed without a read, from its status file (0 for
    an agent that writes none). The file lags routine changes by up to a tenth of the
    interval, so a window's count is shifted by as much."""
    try:
        agent = json.loads((out / ".status.json").read_text())["agent"]
    except (OSError, ValueError, KeyError, TypeError):
        return 0
    value = agent.get("confirmed_total") if isinstance(agent, dict) else None
    return value if isinstance(value, int) else 0


def value(i: int) -> str:
    return f"pw-{i}-{secrets.token_hex(12)}"


def read_text(path: Path) -> str | None:
    try:
        return path.read_text()
    except OSError:
        return None
