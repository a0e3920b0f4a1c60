"""A 3-node OpenBao cluster on loopback with integrated (raft) storage, for tests.

Node 1 is initialised (one key share) and unsealed; nodes 2 and 3 join it through
``sys/storage/raft/join`` and are unsealed with the same key. Standbys forward client requests
to the active node. ``kill(i)`` ends a node with SIGKILL (no leadership hand-over), so the
others must notice the silence and elect a new leader; ``performance_multiplier = 1`` keeps
raft's timeouts at their shortest, an election takes a few seconds. Autopilot is off
(``BAO_RAFT_AUTOPILOT_DISABLE``): a joining node is a voter at once instead of a non-voter
promoted after a stabilisation period, so the cluster can replace a lost leader as soon as it
is formed.

Everything goes over plain HTTP with the standard library: the helper needs no client library.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _call(url: str, method: str = "GET", body: object = None, token: str | None = None) -> Any:
    """One API call; returns ``(status, decoded JSON or None)``, never raises for a status."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    if token:
        request.add_header("X-Vault-Token", token)
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            text = answer.read()
            return answer.status, json.loads(text) if text else None
    except urllib.error.HTTPError as exc:
        text = exc.read()
        try:
            return exc.code, json.loads(text) if text else None
        except ValueError:
            return exc.code, None


class ClusterNode:
    """One ``bao server`` process with its own ports, data directory and log."""

    def __init__(self, binary: str, index: int, root: Path) -> None:
        self.index = index
        self.port, self.cluster_port = _free_port(), _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._binary = binary
        self._dir = root / f"n{index}"
        (self._dir / "data").mkdir(parents=True)
        self._config = self._dir / "node.hcl"
        self._config.write_text(
            f"""
storage "raft" {{
  path = "{self._dir / "data"}"
  node_id = "n{index}"
  performance_multiplier = 1
}}
listener "tcp" {{
  address = "127.0.0.1:{self.port}"
  cluster_address = "127.0.0.1:{self.cluster_port}"
  tls_disable = true
}}
api_addr = "{self.url}"
cluster_addr = "http://127.0.0.1:{self.cluster_port}"
disable_mlock = true
"""
        )
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.launch()
        self.wait_listening()

    def launch(self) -> None:
        """Start the process; ``wait_listening`` waits for its API."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "BAO_"))}
        env["BAO_RAFT_AUTOPILOT_DISABLE"] = "true"
        log = open(self._dir / "bao.log", "ab")  # noqa: SIM115 (the child keeps it)
        try:
            self._process = subprocess.Popen(
                [self._binary, "server", f"-config={self._config}"],
                stdout=log, stderr=subprocess.STDOUT, env=env,
            )  # fmt: skip
        finally:
            log.close()

    def wait_listening(self) -> None:
        self._wait(lambda: self.health() != 0, "listening")

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def health(self) -> int:
        """``sys/health``'s status: 200 active, 429 standby, 501 not initialised, 503 sealed;
        0 when the node does not answer."""
        try:
            status, _ = _call(f"{self.url}/v1/sys/health")
        except (urllib.error.URLError, OSError):
            return 0
        return int(status)

    def unseal(self, key: str) -> None:
        status, _ = _call(f"{self.url}/v1/sys/unseal", "PUT", {"key": key})
        if status != 200:
            raise RuntimeError(f"node {self.index}: unseal answered {status}")

    def kill(self) -> None:
        """SIGKILL, then reap: the node vanishes mid-flight as in a crash."""
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGKILL)
            self._process.wait(timeout=10)

    def stop(self) -> None:
        self.terminate()
        self.reap()

    def terminate(self) -> None:
        """SIGTERM (the node shuts down in the background: ``reap`` waits for it)."""
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()

    def reap(self) -> None:
        if self._process is None:
            return
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()

    def _wait(self, ready: Any, what: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                raise RuntimeError(f"node {self.index} exited with {self._process.returncode}")
            if ready():
                return
            time.sleep(0.1)
        raise RuntimeError(f"node {self.index} not {what} after {timeout:.0f} s")


class OpenBaoCluster:
    """Three raft nodes: ``nodes``, ``addresses``, ``root_token``, ``leader()``, ``kill``."""

    def __init__(self, binary: str, root: Path, size: int = 3) -> None:
        self.nodes = [ClusterNode(binary, i + 1, root) for i in range(size)]
        self.root_token = ""
        self._key = ""
        try:
            self._form()
        except BaseException:
            self.stop()
            raise

    @property
    def addresses(self) -> list[str]:
        return [node.url for node in self.nodes]

    def _form(self) -> None:
        first, *others = self.nodes
        for node in self.nodes:  # the others start up while the first is initialised
            node.launch()
        first.wait_listening()
        status, answer = _call(
            f"{first.url}/v1/sys/init", "PUT", {"secret_shares": 1, "secret_threshold": 1}
        )
        if status != 200:
            raise RuntimeError(f"init answered {status}")
        self._key, self.root_token = answer["keys_base64"][0], answer["root_token"]
        first.unseal(self._key)
        first._wait(lambda: first.health() == 200, "active")
        for node in others:
            node.wait_listening()
            status, _ = _call(
                f"{node.url}/v1/sys/storage/raft/join", "PUT", {"leader_api_addr": first.url}
            )
            if status != 200:
                raise RuntimeError(f"node {node.index}: raft join answered {status}")
            node.unseal(self._key)
        for node in others:
            node._wait(lambda n=node: n.health() == 429, "a standby")  # type: ignore[misc]
        self._wait_for_voters(len(self.nodes))
        self.call("sys/mounts/secret", "POST", {"type": "kv", "options": {"version": "2"}})
        deadline = time.monotonic() + 30
        while True:  # a new KV v2 mount answers 400 "upgrading" for a moment
            try:
                self.put_secret(".ready", {"ok": "1"})
                return
            except RuntimeError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def voters(self) -> int:
        """How many nodes raft counts as voters now."""
        answer = self.call("sys/storage/raft/configuration")
        servers = answer["data"]["config"]["servers"]
        return sum(1 for server in servers if server.get("voter"))

    def _wait_for_voters(self, count: int, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while self.voters() < count:
            if time.monotonic() > deadline:
                raise RuntimeError(f"fewer than {count} raft voters after {timeout:.0f} s")
            time.sleep(0.2)

    def call(self, path: str, method: str = "GET", body: object = None) -> Any:
        """An API call with the root token at whichever node answers (standbys forward)."""
        last: object = None
        for node in self.nodes:
            if not node.running:
                continue
            try:
                status, answer = _call(f"{node.url}/v1/{path}", method, body, self.root_token)
            except (urllib.error.URLError, OSError) as exc:
                last = exc
                continue
            if status < 300:
                return answer
            last = f"{status} {answer}"
        raise RuntimeError(f"{method} {path}: no node accepted it ({last})")

    def put_secret(self, path: str, data: dict[str, Any]) -> None:
        self.call(f"secret/data/{path}", "POST", {"data": data})

    def leader(self) -> ClusterNode | None:
        """The active node, if there is one now."""
        for node in self.nodes:
            if node.running and node.health() == 200:
                return node
        return None

    def wait_for_leader(
        self, *, other_than: ClusterNode | None = None, timeout: float = 60.0
    ) -> ClusterNode:
        """The active node once there is one (not ``other_than``); raises after ``timeout``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            node = self.leader()
            if node is not None and node is not other_than:
                return node
            time.sleep(0.1)
        raise RuntimeError(f"no leader elected within {timeout:.0f} s")

    def stop(self) -> None:
        for node in self.nodes:  # all shut down at once
            node.terminate()
        for node in self.nodes:
            node.reap()
