"""The reader under a service's load: concurrent misses, TTL boundaries, and the asyncio hit.

- backend reads for 32 / 256 threads missing one key at once: the Vault dev server with 50 ms of
  injected latency (own process, its own request log), moto's server (own process, counting
  Secrets Manager calls by action) and real OpenBao (its file audit log); baseline: one plain
  hvac read per thread against the same dev server
- caller latency of a key read steadily by 4 threads across 20 TTL boundaries, refresh ahead
  off vs on (dev server, 50 ms latency)
- ``await aget_secret`` hit vs ``get_secret`` hit, both inside a coroutine on one event loop
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from itertools import repeat
from pathlib import Path
from typing import Any

import pytest
from benchkit import harness, procs, report
from benchkit.report import SummaryRow, fmt_ns, fmt_ratio, verdict

pytestmark = pytest.mark.bench

LATENCY = 0.05
KEY = "load/password"


def in_threads(count: int, read: Callable[[], object]) -> list[object]:
    """Run ``read`` in ``count`` threads released together; their results."""
    start = threading.Barrier(count)
    results: list[object] = [None] * count

    def worker(index: int) -> None:
        start.wait()
        results[index] = read()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return results


@pytest.fixture(scope="module")
def vault() -> Iterator[procs.ServerProcess]:
    try:
        import secrets_agent.devserver  # noqa: F401
        from libs.secrets import VaultSecretManager  # noqa: F401
    except ImportError as exc:
        pytest.skip(f"reader or dev server not available: {exc}")
    with procs.ServerProcess("vault_load_proc.py") as server:
        server.command("put load password pw")
        yield server


def vault_manager(server: procs.ServerProcess, **kwargs: Any) -> Any:
    from libs.secrets import VaultSecretManager

    config = {"address": server.info["url"], "token": server.info["token"], "timeout": 30}
    return VaultSecretManager(config, **kwargs)


def misses_vault(server: procs.ServerProcess, threads: int) -> int:
    server.command("reset")
    with vault_manager(server, ttl_seconds=60) as manager:
        assert in_threads(threads, lambda: manager.get_secret(KEY)) == ["pw"] * threads
    return int(server.command("count secret/data/load"))


def plain_hvac_reads(server: procs.ServerProcess, threads: int) -> int:
    import hvac

    server.command("reset")
    client = hvac.Client(url=server.info["url"], token=server.info["token"], timeout=30)

    def read() -> object:
        return client.secrets.kv.v2.read_secret_version(path="load", mount_point="secret")

    in_threads(threads, read)
    return int(server.command("count secret/data/load"))


def misses_moto(threads: int) -> int:
    import boto3
    from libs.secrets import AWSSecretsManager

    with procs.ServerProcess("moto_proc.py") as moto:
        url = moto.info["url"]
        setup = boto3.client(
            "secretsmanager",
            region_name="us-east-1",
            endpoint_url=url,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        setup.create_secret(Name="load", SecretString=json.dumps({"password": "pw"}))
        procs.http_json(f"{url}/__bench/reset", method="POST")
        config = {"endpoint_url": url, "region": "us-east-1"}
        with AWSSecretsManager(config, ttl_seconds=60) as manager:
            assert in_threads(threads, lambda: manager.get_secret(KEY)) == ["pw"] * threads
        counts = procs.http_json(f"{url}/__bench/counts")
    return int(counts["actions"].get("GetSecretValue", 0))


def misses_openbao(threads: int, tmp: Path) -> int | None:
    """Reads of ``secret/data/load`` in a real OpenBao's file audit log, or None without bao."""
    from libs.secrets import VaultSecretManager

    binary = shutil.which("bao") or shutil.which("bao", path=str(Path(procs.PYTHON).parent))
    if binary is None:
        return None
    with socketless_port() as port:
        url = f"http://127.0.0.1:{port}"
    audit = tmp / "audit.log"
    config_file = tmp / "audit.hcl"  # OpenBao takes audit devices from its config file only
    tmp.mkdir(parents=True, exist_ok=True)
    config_file.write_text(
        f'audit "file" "bench" {{\n  options {{\n    file_path = "{audit}"\n  }}\n}}\n'
    )
    command = [binary, "server", "-dev", "-dev-root-token-id=root", f"-config={config_file}"]
    process = subprocess.Popen(
        [*command, f"-dev-listen-address={url[7:]}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_ready(f"{url}/v1/sys/health")
        bao_call(url, "POST", "secret/data/load", {"data": {"password": "pw"}})
        before = audit_reads(audit)
        config = {"address": url, "token": "root", "timeout": 30}
        with VaultSecretManager(config, ttl_seconds=60) as manager:
            assert in_threads(threads, lambda: manager.get_secret(KEY)) == ["pw"] * threads
        return audit_reads(audit) - before
    finally:
        process.terminate()
        process.wait(10)


class socketless_port:  # noqa: N801 - a context manager used like a function
    """A free loopback port number (the probe socket is closed on exit)."""

    def __enter__(self) -> int:
        import socket

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        return int(self.sock.getsockname()[1])

    def __exit__(self, *exc: object) -> None:
        self.sock.close()


def wait_ready(url: str) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def bao_call(url: str, method: str, path: str, data: object) -> None:
    request = urllib.request.Request(
        f"{url}/v1/{path}",
        data=json.dumps(data).encode(),
        method=method,
        headers={"X-Vault-Token": "root", "Content-Type": "application/json"},
    )
    urllib.request.urlopen(request, timeout=10).close()


def audit_reads(audit: Path) -> int:
    """Reads (requests, not responses) of the secret's data path in an OpenBao audit log."""
    count = 0
    for line in audit.read_text().splitlines():
        entry = json.loads(line)
        request = entry.get("request", {})
        if (
            entry.get("type") == "request"
            and request.get("path") == "secret/data/load"
            and request.get("operation") == "read"
        ):
            count += 1
    return count


def test_concurrent_misses_of_one_key(
    vault: procs.ServerProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")  # moto's dummy credentials
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    vault.command(f"latency {LATENCY}")
    rows = []
    plain = plain_hvac_reads(vault, 32)
    rows.append(("dev server, 50 ms latency: one plain hvac read per thread", "32", str(plain)))
    for threads in (32, 256):
        dev = misses_vault(vault, threads)
        moto = misses_moto(threads)
        bao = misses_openbao(threads, tmp_path / str(threads))
        rows.append(("dev server, 50 ms latency: get_secret", str(threads), str(dev)))
        rows.append(("moto server: get_secret", str(threads), str(moto)))
        rows.append(
            ("OpenBao dev server: get_secret", str(threads), "-" if bao is None else str(bao))
        )
        counts = [c for c in (dev, moto, bao) if c is not None]
        report.add_summary(
            SummaryRow(
                f"backend reads for {threads} threads missing one key at once "
                "(dev server / moto / OpenBao)",
                " / ".join("-" if c is None else str(c) for c in (dev, moto, bao)),
                f"one plain hvac read per thread: {plain} for 32",
                "-",
                "1 each",
                verdict(all(c == 1 for c in counts)),
            )
        )
    vault.command("latency 0")
    report.add_table(
        "Backend reads for one key missed by many threads at once",
        ("reader", "threads", "backend reads"),
        rows,
        note="Counted by the servers: the dev server's request log, moto's calls by action "
        "(GetSecretValue), OpenBao's file audit log (requests for secret/data/load).",
    )


def steady_reads(
    server: procs.ServerProcess, refresh_ahead: float, seconds: float, ttl: float
) -> tuple[list[float], int]:
    """Per-call latencies (s) of 4 threads reading one key every ~2 ms, and backend reads."""
    latencies: list[list[float]] = [[] for _ in range(4)]
    with vault_manager(server, ttl_seconds=ttl, refresh_ahead=refresh_ahead) as manager:
        manager.get_secret(KEY)
        server.command("reset")
        stop = time.monotonic() + seconds

        def reader(out: list[float]) -> None:
            clock = time.perf_counter
            while time.monotonic() < stop:
                started = clock()
                manager.get_secret(KEY)
                out.append(clock() - started)
                time.sleep(0.002)

        threads = [threading.Thread(target=reader, args=(out,)) for out in latencies]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    reads = int(server.command("count secret/data/load"))
    return [x for out in latencies for x in out], reads


def test_latency_across_ttl_boundaries(vault: procs.ServerProcess) -> None:
    vault.command(f"latency {LATENCY}")
    ttl, seconds = 0.5, 10.0
    samples: dict[str, list[float]] = {"off": [], "on (0.2)": []}
    reads: dict[str, int] = {"off": 0, "on (0.2)": 0}
    for _round in range(2):  # alternate, half the time each
        for name, fraction in (("off", 0.0), ("on (0.2)", 0.2)):
            got, count = steady_reads(vault, fraction, seconds / 2, ttl)
            samples[name] += got
            reads[name] += count
    vault.command("latency 0")
    rows = []
    waited: dict[str, int] = {}
    for name, values in samples.items():
        waited[name] = sum(1 for v in values if v >= LATENCY / 2)
        rows.append(
            (
                name,
                f"{len(values):,}",
                fmt_ns(harness.percentile(values, 50) * 1e9),
                fmt_ns(harness.percentile(values, 99) * 1e9),
                fmt_ns(harness.percentile(values, 99.9) * 1e9),
                fmt_ns(max(values) * 1e9),
                str(waited[name]),
                str(reads[name]),
            )
        )
    report.add_table(
        "Caller latency of a steadily read key across 20 TTL boundaries (dev server, 50 ms)",
        ("refresh ahead", "calls", "p50", "p99", "p99.9", "max", "calls >= 25 ms", "reads"),
        rows,
        note=f"4 threads read one key every ~2 ms for {seconds:g} s with a TTL of {ttl} s; "
        "the two settings alternate in halves. 'calls >= 25 ms' waited for the backend.",
    )
    on, off = samples["on (0.2)"], samples["off"]
    report.add_summary(
        SummaryRow(
            "steadily read key across 20 TTL boundaries: p99 / max caller latency, "
            "refresh ahead on",
            f"p99 {fmt_ns(harness.percentile(on, 99) * 1e9)}, max {fmt_ns(max(on) * 1e9)}, "
            f"{waited['on (0.2)']} calls waited",
            f"refresh ahead off: p99 {fmt_ns(harness.percentile(off, 99) * 1e9)}, "
            f"max {fmt_ns(max(off) * 1e9)}, {waited['off']} calls waited",
            "-",
            "no caller waits for the backend",
            verdict(waited["on (0.2)"] == 0),
        )
    )


def test_async_hit(tmpfs_dir: Path) -> None:
    from libs.secrets import FileSecretManager

    (tmpfs_dir / "load").mkdir()
    (tmpfs_dir / "load" / "password").write_text("pw")
    loop = asyncio.new_event_loop()
    with FileSecretManager(str(tmpfs_dir), ttl_seconds=3600) as manager:
        assert manager.get_secret(KEY) == "pw"
        get, aget = manager.get_secret, manager.aget_secret

        def sync_hit(n: int) -> harness.Runner:
            async def body() -> None:
                for _ in repeat(None, n):
                    get(KEY)

            return lambda: loop.run_until_complete(body())

        def async_hit(n: int) -> harness.Runner:
            async def body() -> None:
                for _ in repeat(None, n):
                    await aget(KEY)

            return lambda: loop.run_until_complete(body())

        def empty_coroutine(n: int) -> harness.Runner:
            async def nothing(key: str) -> str:
                return key

            async def body() -> None:
                for _ in repeat(None, n):
                    await nothing(KEY)

            return lambda: loop.run_until_complete(body())

        comp = harness.compare(
            {
                "get_secret hit (in a coroutine)": sync_hit,
                "await aget_secret hit": async_hit,
                "await of an empty coroutine (the language's floor)": empty_coroutine,
            },
            baseline="get_secret hit (in a coroutine)",
        )
    loop.close()
    report.add_table(
        "asyncio hit vs sync hit (file backend, TTL 1 h), ns per call",
        ("operation", "net", "ratio vs get_secret hit"),
        [(c.name, fmt_ns(c.median_ns), fmt_ratio(c.ratio)) for c in comp.cases.values()],
        note=f"{comp.rounds} interleaved rounds; each runs its loop inside one coroutine on one "
        "event loop (run_until_complete once per round).",
    )
    hit = comp["await aget_secret hit"]
    base = comp["get_secret hit (in a coroutine)"]
    assert hit.ratio is not None
    report.add_summary(
        SummaryRow(
            "await aget_secret hit vs get_secret hit",
            fmt_ns(hit.median_ns),
            f"get_secret hit {fmt_ns(base.median_ns)}",
            fmt_ratio(hit.ratio),
            "<= 1.5x",
            verdict(hit.ratio <= 1.5),
        )
    )
