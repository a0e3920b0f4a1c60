"""The reader under concurrency: many threads call ``get_secret`` while values rotate and cache
entries expire. Every answer is a whole value that was written; the only exceptions allowed are
the reader's documented ones (and, for files, none at all)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from reliability_kit import record
from secrets_agent.writer.writer import SecretWriter


def _hammer(
    get: Callable[[], str], valid: Callable[[str], bool], seconds: float
) -> tuple[int, int, dict[str, int]]:
    from libs.secrets import SecretManagerError

    lock = threading.Lock()
    totals = {"reads": 0, "bad": 0}
    errors: dict[str, int] = {}
    end = time.monotonic() + seconds

    def worker() -> None:
        reads = bad = 0
        while time.monotonic() < end:
            try:
                value = get()
            except SecretManagerError as exc:
                with lock:
                    errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
                continue
            except Exception:  # undocumented: counts as lost
                bad += 1
                continue
            reads += 1
            if not valid(value):
                bad += 1
        with lock:
            totals["reads"] += reads
            totals["bad"] += bad

    threads = [threading.Thread(target=worker) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return totals["reads"], totals["bad"], errors


def _file_rotations(tmpfs_dir: Path, seconds: float) -> None:
    from libs.secrets import FileSecretManager

    out = tmpfs_dir / "out"
    writer = SecretWriter(out)
    writer.prepare()
    written = {f"v{i}-" + "q" * (i % 500) for i in range(100_000)}
    writer.write("app/password", b"v0-", mode=0o400)
    stop = threading.Event()
    rotations = [0]

    def rotate() -> None:
        i = 1
        while not stop.is_set():
            writer.write("app/password", (f"v{i}-" + "q" * (i % 500)).encode(), mode=0o400)
            rotations[0] = i
            i += 1
            time.sleep(0.001)

    with FileSecretManager(out, ttl_seconds=0.005) as manager:
        rotator = threading.Thread(target=rotate)
        rotator.start()
        try:
            reads, bad, errors = _hammer(
                lambda: manager.get_secret("app/password"), written.__contains__, seconds
            )
        finally:
            stop.set()
            rotator.join()
    record(
        "reader: 16 threads, file backend, 5 ms TTL + watcher",
        tried=reads,
        lost=bad + sum(errors.values()),
        unit="reads",
        rotations=rotations[0],
    )
    assert bad == 0 and errors == {}


def test_reader_file_rotations(tmpfs_dir: Path) -> None:
    _file_rotations(tmpfs_dir, 2.0)


def _vault_rotations(vault: Any, seconds: float) -> None:
    from libs.secrets import VaultSecretManager

    vault.put_secret("app", {"password": "v0"})
    stop = threading.Event()
    rotations = [0]

    def rotate() -> None:
        i = 1
        while not stop.is_set():
            vault.put_secret("app", {"password": f"v{i}-" + "w" * (i % 200)})
            if i % 50 == 0:
                vault.fail_next(3, 503)  # sealed-like blips: stale-if-error must cover them
            rotations[0] = i
            i += 1
            time.sleep(0.002)

    def valid(value: str) -> bool:
        head, _, tail = value.partition("-")
        return value == "v0" or (head[1:].isdigit() and tail == "w" * (int(head[1:]) % 200))

    manager = VaultSecretManager(
        {"address": vault.url, "token": vault.root_token, "timeout": 2.0}, ttl_seconds=0.01
    )
    with manager:
        rotator = threading.Thread(target=rotate)
        rotator.start()
        try:
            reads, bad, errors = _hammer(lambda: manager.get_secret("app/password"), valid, seconds)
        finally:
            stop.set()
            rotator.join()
    record(
        "reader: 16 threads, vault backend, 10 ms TTL, rotating",
        tried=reads,
        lost=bad + sum(errors.values()),
        unit="reads",
        rotations=rotations[0],
    )
    assert bad == 0 and errors == {}


def test_reader_vault_rotations(vault: Any) -> None:
    _vault_rotations(vault, 2.0)


@pytest.mark.soak
@pytest.mark.timeout(1800)
def test_reader_rotations_soak(tmpfs_dir: Path, vault: Any) -> None:
    _file_rotations(tmpfs_dir, 60.0)
    _vault_rotations(vault, 60.0)
