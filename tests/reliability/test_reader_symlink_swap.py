"""A directory of SECRETS_DIR swapped for a symlink while a root reader reads through it.

uid 65534 owns ``<SECRETS_DIR>/shared`` and, in a tight loop, swaps ``shared/app`` (a real
directory holding ``password``) for a symlink to a directory outside SECRETS_DIR holding a root-only
``password`` of its own, and back. A root ``FileSecretManager`` (TTL 0: every read opens the
file) reads ``shared/app/password`` thousands of times meanwhile. It may find the key missing
or refused at an unlucky moment; it must never return the outside file. Each read meets the
swap in the plain ``O_NOFOLLOW`` opens or, once they meet the symlink, in the resolution beneath
the directory: run once through the kernel's ``openat2`` and once through the portable walk.

A naive check on the same race (resolve the path, refuse it if outside, then open the resolved
path with ``O_NOFOLLOW``) is timed alongside as a control, so the figures show the swap was live.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from libs.secrets import (
    FileSecretManager,
    SecretAccessDeniedError,
    SecretNotFoundError,
    beneath,
)
from reliability_kit import record

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to act as uid 65534")

NOBODY = 65534
READS = 4000
INSIDE = "inside value"


def swap_as_nobody(shared: Path, target: str, stop: int, report: int) -> None:
    """In a forked child: become uid 65534, then swap ``shared/app`` between the real directory
    and a symlink to ``target`` until ``stop`` reaches end of file; write the swap count."""
    os.setgroups([])
    os.setgid(NOBODY)
    os.setuid(NOBODY)
    os.chdir(shared)
    os.symlink(target, "app.link")
    os.set_blocking(stop, False)
    os.write(report, b"ready\n")
    swaps = 0
    while True:
        os.rename("app", "app.dir")
        os.rename("app.link", "app")
        os.rename("app", "app.link")
        os.rename("app.dir", "app")
        swaps += 1
        try:
            if os.read(stop, 1) == b"":
                break
        except BlockingIOError:
            pass
    os.write(report, f"{swaps}\n".encode())


def naive_read(root: Path, key: str) -> str | None:
    """The pre-openat2 check: resolve, refuse outside, open the resolved path O_NOFOLLOW."""
    try:
        real_root = os.path.realpath(root)
        real = os.path.realpath(f"{real_root}/{key}")
        if not real.startswith(real_root + os.sep):
            return None
        fd = os.open(real, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:  # a component vanished mid-swap
        return None
    try:
        return os.read(fd, 4096).decode()
    finally:
        os.close(fd)


@pytest.mark.parametrize("mechanism", ["openat2", "walk"])
@pytest.mark.parametrize("link", ["absolute", "relative"])
def test_swapped_directory_never_leads_outside(
    tmpfs_dir: Path, canary: str, mechanism: str, link: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if mechanism == "walk":
        monkeypatch.setattr(beneath, "_openat2", None)
        monkeypatch.setattr(beneath, "_probed", True)
    elif beneath._probe() is None:
        pytest.skip("this kernel has no openat2")
    os.chmod(tmpfs_dir, 0o711)  # noqa: S103 - uid 65534 may pass through to its directory
    root = tmpfs_dir / "secrets"
    shared = root / "shared"
    (shared / "app").mkdir(parents=True)
    (shared / "app" / "password").write_text(INSIDE)
    outside = tmpfs_dir / "outside" / "app"
    outside.mkdir(parents=True)
    (outside / "password").write_text(canary)
    os.chmod(outside / "password", 0o600)  # the attacker cannot read it; root can
    for path in (shared, shared / "app", shared / "app" / "password"):
        os.chown(path, NOBODY, NOBODY)
    target = str(outside) if link == "absolute" else os.path.relpath(outside, shared)

    stop_r, stop_w = os.pipe()
    report_r, report_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the attacker
        code = 1
        try:
            os.close(stop_w)
            os.close(report_r)
            swap_as_nobody(shared, target, stop_r, report_w)
            code = 0
        except BaseException as exc:
            os.write(report_w, f"attacker: {exc!r}\n".encode())
        finally:
            os._exit(code)
    os.close(stop_r)
    os.close(report_w)
    outcomes = {"inside": 0, "outside": 0, "missing": 0, "refused": 0}
    naive_leaks = 0
    with os.fdopen(report_r) as report:
        try:
            assert report.readline() == "ready\n", "the attacker did not start"
            with FileSecretManager(root, ttl_seconds=0, watch=False) as manager:
                for _ in range(READS):
                    try:
                        value = manager.get_secret("shared/app/password")
                    except SecretNotFoundError:
                        outcomes["missing"] += 1
                    except SecretAccessDeniedError as exc:
                        assert canary not in str(exc)
                        outcomes["refused"] += 1
                    else:
                        outcomes["inside" if value == INSIDE else "outside"] += 1
                    if naive_read(root, "shared/app/password") == canary:
                        naive_leaks += 1
        finally:
            os.close(stop_w)
            swapped = report.read().strip()
            _, status = os.waitpid(pid, 0)
    assert status == 0, f"the attacker failed: {swapped}"
    swaps = int(swapped)

    record(
        f"reader: directory swapped for a symlink ({mechanism}, {link})",
        tried=READS,
        lost=outcomes["outside"],
        unit="reads",
        swaps=swaps,
        naive_check_leaked=naive_leaks,
        **{k: v for k, v in outcomes.items() if k != "outside"},
    )
    assert outcomes["outside"] == 0
    assert sum(outcomes.values()) == READS
    assert swaps > 0, "the swapper never ran"
    assert outcomes["inside"] > 0, "the real file was never read: the attack proved nothing"
