"""The agent under the unit's sandbox, as far as it can be reproduced without systemd.

systemd is not running here, so the sandbox is rebuilt from its kernel parts: a private mount
namespace with a read-only root file system (``ProtectSystem=strict``; only the tmpfs output
directory stays writable), the W^X lock ``prctl(PR_SET_MDWE)`` that systemd >= 254 uses for
``MemoryDenyWriteExecute=yes``, ``PR_SET_NO_NEW_PRIVS`` (``NoNewPrivileges=yes``),
``UMask=0077``, ``LimitCORE=0`` and ``PYTHONDONTWRITEBYTECODE=1``. The real dependency set is
loaded: hvac/requests for the sync, APScheduler, and boto3 and watchdog imported on top.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

PR_SET_NO_NEW_PRIVS = 38
PR_SET_MDWE = 65
PR_MDWE_REFUSE_EXEC_GAIN = 1

# Applies the unit's process-level restrictions, then execs the agent (all are kept by exec).
SANDBOX = textwrap.dedent(
    f"""
    import ctypes, os, resource, sys
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl({PR_SET_MDWE}, {PR_MDWE_REFUSE_EXEC_GAIN}, 0, 0, 0) != 0:
        print("NO-MDWE", ctypes.get_errno()); sys.exit(77)
    if libc.prctl({PR_SET_NO_NEW_PRIVS}, 1, 0, 0, 0) != 0:
        sys.exit(78)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    os.umask(0o077)
    os.environ["PYTHONDONTWRITEBYTECODE"] = "1"
    os.execv(sys.executable, [sys.executable, *sys.argv[1:]])
    """
)

# Run by the agent's exec as its child: the same restrictions are inherited; the child loads
# what the agent does not (boto3, watchdog) and proves writable+executable memory is refused.
CHILD = textwrap.dedent(
    """
    import mmap, os, sys
    import boto3, watchdog.observers, hvac, apscheduler.schedulers.background
    boto3.session.Session().client("secretsmanager", region_name="us-east-1")
    try:
        mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
        wx = "allowed"
    except OSError:
        wx = "refused"
    try:
        open("/usr/tmpfs-secrets-probe", "w")
        root = "writable"
    except OSError:
        root = "read-only"
    print(wx, root, oct(os.umask(0)))
    """
)


def _mount_namespace() -> list[str]:
    unshare = shutil.which("unshare")
    if unshare is None or os.geteuid() != 0:
        pytest.skip("needs root and unshare(1) for a private mount namespace")
    argv = [unshare, "--mount", "--propagation", "private"]
    probe = subprocess.run(
        [*argv, "sh", "-c", "mount -o remount,bind,ro / && ! touch /tmpfs-secrets-probe"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    if probe.returncode != 0:
        pytest.skip(f"cannot make / read-only in a mount namespace: {probe.stderr.strip()}")
    return argv


def test_agent_syncs_and_runs_a_child_under_the_units_restrictions(
    vault: Any, tmpfs_dir: Path, tmp_path: Path, canary: str
) -> None:
    namespace = _mount_namespace()
    vault.put_secret("app", {"password": canary})
    token = tmp_path / "token"
    token.write_text(vault.root_token)
    output_dir = tmpfs_dir / "secrets"
    config = tmp_path / "agent.toml"
    config.write_text(
        textwrap.dedent(
            f"""
            [agent]
            output_dir = "{output_dir}"
            [backend]
            type = "vault"
            address = "{vault.url}"
            auth = {{ method = "token", token_file = "{token}" }}
            [[secrets]]
            path = "app"
            """
        )
    )
    sandbox = tmp_path / "sandbox.py"
    sandbox.write_text(SANDBOX)
    child = tmp_path / "child.py"
    child.write_text(CHILD)
    agent = [sys.executable, str(sandbox), "-m", "secrets_agent"]
    script = "mount -o remount,bind,ro / && exec " + " ".join(
        [*agent, "exec", "--config", str(config), "--", sys.executable, str(child)]
    )
    result = subprocess.run(
        [*namespace, "sh", "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if result.returncode == 77:
        pytest.skip("this kernel has no PR_SET_MDWE (Linux >= 6.3)")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["refused", "read-only", "0o77"]
    password = output_dir / "app" / "password"
    assert password.read_text() == canary
    assert oct(password.stat().st_mode & 0o777) == "0o400"
    assert canary not in result.stdout + result.stderr
