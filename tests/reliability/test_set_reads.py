"""Consistent sets: a reader never sees the fields of two versions of one secret together.

The writer rotates a three-field secret (``format = "fields"``) thousands of times. Reader
threads open the secret's directory once (``O_DIRECTORY``, as ``open("/run/secrets/db")`` would)
and read every field through that descriptor; every field carries the version it belongs to,
so a reader can tell one set from a mix. A field missing through the descriptor means the set
was replaced and the old directory removed (two seconds after the switch): the reader opens the
directory again, as a consumer that wants one set does. Other threads read the fields by path
and through the reader library, which must never find a field missing during a rotation.

``rounds(..., whole_sets=False)`` runs the same readers against the writer's file-by-file
replacement, to show what the whole-set switch prevents (not a test: it mixes).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from reliability_kit import record
from secrets_agent.writer import SecretWriter
from secrets_agent.writer.writer import RETIRED_SET_SECONDS

FIELDS = ("username", "password", "host")
DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC


def field_value(name: str, n: int) -> bytes:
    return f"{n}|{name}|".encode() + b"x" * (n * 31 % 2000)


def version_of(data: bytes) -> int:
    head, _, _ = data.partition(b"|")
    return int(head) if head.isdigit() else -1


def secret_files(n: int) -> dict[str, bytes]:
    return {f"db/{name}": field_value(name, n) for name in FIELDS}


@dataclass
class Counts:
    rotations: int = 0
    sets: int = 0  # whole sets read through one directory descriptor
    mixes: int = 0  # sets with fields of more than one version
    retries: int = 0  # the directory was replaced while it was read: opened again
    path_reads: int = 0
    path_missing: int = 0  # a field missing when read by path
    library_reads: int = 0
    library_errors: int = 0  # the reader library failed a read (not found, ...)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, **values: int) -> None:
        with self.lock:
            for name, value in values.items():
                setattr(self, name, getattr(self, name) + value)


def _read_set(directory: Path, stop: threading.Event, counts: Counts) -> None:
    sets = mixes = retries = 0
    while not stop.is_set():
        fd = os.open(directory, DIR_FLAGS)
        try:
            versions = set()
            for name in FIELDS:
                file = os.open(name, os.O_RDONLY | os.O_CLOEXEC, dir_fd=fd)
                try:
                    versions.add(version_of(os.read(file, 4096)))
                finally:
                    os.close(file)
        except FileNotFoundError:
            retries += 1
            continue
        finally:
            os.close(fd)
        sets += 1
        mixes += len(versions) != 1
    counts.add(sets=sets, mixes=mixes, retries=retries)


def _read_paths(directory: Path, stop: threading.Event, counts: Counts) -> None:
    reads = missing = 0
    while not stop.is_set():
        for name in FIELDS:
            try:
                (directory / name).read_bytes()
            except FileNotFoundError:
                missing += 1
            reads += 1
    counts.add(path_reads=reads, path_missing=missing)


def _read_library(out: Path, stop: threading.Event, counts: Counts) -> None:
    from libs.secrets import FileSecretManager, SecretManagerError

    reads = errors = 0
    with FileSecretManager(out, ttl_seconds=0, watch=False) as manager:
        while not stop.is_set():
            for name in FIELDS:
                try:
                    manager.get_secret(f"db/{name}")
                except SecretManagerError:
                    errors += 1
                reads += 1
    counts.add(library_reads=reads, library_errors=errors)


def rounds(
    out: Path, rotations: int, *, whole_sets: bool = True, min_seconds: float = 0.0
) -> Counts:
    """Rotate the secret ``rotations`` times, and on for at least ``min_seconds``, under the
    readers; return what they saw."""
    writer = SecretWriter(out)
    writer.prepare()
    if not whole_sets:  # the file-by-file replacement the whole-set switch replaced
        writer._swap_set = lambda *args, **kwargs: None  # type: ignore[method-assign]
    writer.write_files(secret_files(0), mode=0o400)
    counts, stop = Counts(), threading.Event()
    readers: list[Any] = [_read_set, _read_set, _read_paths, _read_library]
    threads = [
        threading.Thread(target=r, args=(out if r is _read_library else out / "db", stop, counts))
        for r in readers
    ]
    for thread in threads:
        thread.start()
    n = 0
    until = time.monotonic() + min_seconds
    try:
        while n < rotations or time.monotonic() < until:
            n += 1
            assert writer.write_files(secret_files(n), mode=0o400)
    finally:
        counts.rotations = n
        stop.set()
        for thread in threads:
            thread.join()
        writer.close()  # removes the old sets still kept for readers in flight
    return counts


def test_a_field_set_is_never_read_mixed(out_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    # A writer that switches field by field mixes a large share of the sets (see ``rounds``),
    # so 1,000 rotations find it many times over; the run lasts past the time an old set is
    # kept, so old sets are removed while the readers read.
    _never_mixed(out_dir, caplog, 1000, min_seconds=RETIRED_SET_SECONDS + 1.0)


@pytest.mark.soak
@pytest.mark.timeout(900)
def test_a_field_set_is_never_read_mixed_soak(
    out_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _never_mixed(out_dir, caplog, 30_000)


def _never_mixed(
    out_dir: Path, caplog: pytest.LogCaptureFixture, rotations: int, *, min_seconds: float = 0.0
) -> None:
    caplog.set_level(logging.WARNING)
    counts = rounds(out_dir, rotations, min_seconds=min_seconds)
    # a failed read would be hidden by the library's stale-if-error, which logs it
    failed = [r for r in caplog.records if r.name.startswith("libs.secrets")]
    record(
        "consistent sets: 3-field secret rotated, read per directory",
        tried=counts.rotations,
        lost=counts.mixes + counts.path_missing + counts.library_errors + len(failed),
        unit="rotations",
        sets=counts.sets,
        retries=counts.retries,
        path_missing=counts.path_missing,
        path_reads=counts.path_reads,
        library_reads=counts.library_reads,
    )
    assert counts.mixes == 0
    assert counts.path_missing == 0
    assert counts.library_errors == 0 and failed == []
    assert counts.sets > 0 and counts.path_reads > 0 and counts.library_reads > 0
    assert sorted(os.listdir(out_dir)) == ["db"]  # every old set and temp removed
