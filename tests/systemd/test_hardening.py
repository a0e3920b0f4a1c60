"""secrets_agent.hardening: checked in fresh subprocesses, through the kernel's own view."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Callable

import pytest
from secrets_agent import hardening

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux only")

NOBODY = 65534


def _run(code: str) -> str:
    """Run ``code`` in a fresh interpreter (the test process itself is never hardened)."""
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_process_becomes_non_dumpable_and_core_limit_zero() -> None:
    out = _run(
        """
        import resource
        from secrets_agent.hardening import harden_process, is_dumpable
        before = is_dumpable()
        harden_process()
        print(before, is_dumpable(), resource.getrlimit(resource.RLIMIT_CORE))
        """
    )
    assert out == "True False (0, 0)"


def _as_nobody(body: Callable[[], str]) -> str:
    """Run ``body`` in a forked child that dropped to uid/gid 65534; return what it returned.

    A uid change makes the kernel clear the dumpable flag, so the child first sets it back to 1:
    the tests then start from an ordinary, dumpable unprivileged process.
    """
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        status = 0
        try:
            os.close(read_fd)
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            hardening._prctl(hardening.PR_SET_DUMPABLE, 1)
            result = body()
        except BaseException as exc:
            result, status = f"error: {exc!r}", 1
        os.write(write_fd, result.encode())
        os._exit(status)
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as pipe:
        output = pipe.read().decode()
    _, wait_status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(wait_status) == 0, output
    return output


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to switch to uid 65534")
def test_proc_entries_become_root_owned_for_an_unprivileged_agent() -> None:
    # The kernel makes /proc/PID of a non-dumpable process root-owned: other processes of the
    # same user can no longer read its memory or environment. Observed from outside prctl.
    def body() -> str:
        before = os.stat("/proc/self/environ").st_uid
        hardening.harden_process()
        after = os.stat("/proc/self/environ").st_uid
        return f"{os.getuid()} {before} {after}"

    assert _as_nobody(body) == f"{NOBODY} {NOBODY} 0"


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to switch to uid 65534")
def test_same_user_cannot_read_hardened_process_environment() -> None:
    def peer_reads(pid: int) -> str:
        reader = os.fork()
        if reader == 0:  # pragma: no cover - runs in the grandchild
            try:
                with open(f"/proc/{pid}/environ", "rb") as f:
                    f.read()
                os._exit(10)
            except PermissionError:
                os._exit(20)
            except BaseException:
                os._exit(30)
        _, status = os.waitpid(reader, 0)
        return {10: "readable", 20: "denied"}.get(os.waitstatus_to_exitcode(status), "error")

    def body() -> str:
        before = peer_reads(os.getpid())
        hardening.harden_process()
        return f"{before} {peer_reads(os.getpid())}"

    assert _as_nobody(body) == "readable denied"


def test_children_are_dumpable_again_but_inherit_core_limit() -> None:
    out = _run(
        """
        import subprocess, sys
        from secrets_agent.hardening import harden_process
        harden_process()
        child = subprocess.run([sys.executable, "-c",
            "import resource; from secrets_agent.hardening import is_dumpable; "
            "print(is_dumpable(), resource.getrlimit(resource.RLIMIT_CORE))"],
            capture_output=True, text=True, check=True)
        print(child.stdout.strip())
        """
    )
    assert out == "True (0, 0)"


def test_harden_process_is_idempotent_and_quiet() -> None:
    out = _run(
        """
        from secrets_agent.hardening import harden_process, is_dumpable
        harden_process(); harden_process()
        print(is_dumpable())
        """
    )
    assert out == "False"
