"""A real PostgreSQL server (``initdb``/``pg_ctl``) in a temp dir on a loopback port, for tests.

As root the cluster is created and run as the ``postgres`` user (PostgreSQL refuses to run as
root). ``postgres_binaries`` finds ``initdb`` on PATH or under ``/usr/lib/postgresql/*/bin``;
None means PostgreSQL is not installed (tests skip). ``can_login`` proves a credential works by
logging in with ``psql``.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
from pathlib import Path

__all__ = ["PostgresServer", "can_login", "postgres_binaries"]


def postgres_binaries() -> Path | None:
    """The directory holding ``initdb`` and ``pg_ctl``, or None."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(found).parent
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if Path(candidate, "initdb").exists():
            return Path(candidate)
    return None


def _psql() -> str | None:
    binaries = postgres_binaries()
    beside = binaries / "psql" if binaries else None
    return str(beside) if beside and beside.exists() else shutil.which("psql")


class PostgresServer:
    """``initdb`` + ``pg_ctl start`` in ``root``; superuser ``postgres`` (trust auth on the
    socket, password auth ``postgres``/``secret`` over TCP); ``port``; ``stop()``."""

    PASSWORD = "secret"

    def __init__(self, binaries: Path, root: Path) -> None:
        self._bin = binaries
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self._user = None
        if os.geteuid() == 0:
            self._user = pwd.getpwnam("postgres")
            os.chown(root, self._user.pw_uid, self._user.pw_gid)
        pwfile = root / "pw"
        pwfile.write_text(self.PASSWORD + "\n")
        if self._user is not None:
            os.chown(pwfile, self._user.pw_uid, self._user.pw_gid)
        self._run(
            "initdb", "-D", str(root / "data"), "-U", "postgres", "-A", "scram-sha-256",
            "--pwfile", str(pwfile), "--no-sync",
        )  # fmt: skip
        options = f"-p {self.port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run("pg_ctl", "-D", str(root / "data"), "-o", options, "-l", str(root / "log"),
                  "-w", "start")  # fmt: skip

    def _run(self, tool: str, *args: str) -> None:
        def demote() -> None:
            if self._user is not None:
                os.setgid(self._user.pw_gid)
                os.setuid(self._user.pw_uid)

        subprocess.run(
            [str(self._bin / tool), *args],
            check=True, capture_output=True, timeout=120, preexec_fn=demote, cwd=self.root,
        )  # fmt: skip

    def stop(self) -> None:
        with contextlib.suppress(subprocess.SubprocessError):
            self._run("pg_ctl", "-D", str(self.root / "data"), "-m", "immediate", "stop")


def can_login(port: int, username: str, password: str) -> bool:
    """True if ``username``/``password`` log in to the server on ``port`` (over TCP)."""
    psql = _psql()
    if psql is None:
        raise RuntimeError("psql is not installed")
    env = {"PGPASSWORD": password, "PATH": os.environ.get("PATH", ""), "PGCONNECT_TIMEOUT": "5"}
    answer = subprocess.run(
        [psql, "-h", "127.0.0.1", "-p", str(port), "-U", username, "-d", "postgres",
         "-w", "-tAc", "SELECT 1"],
        capture_output=True, text=True, timeout=30, env=env,
    )  # fmt: skip
    return answer.returncode == 0 and answer.stdout.strip() == "1"
