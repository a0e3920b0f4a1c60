"""Support for the reader's load tests: a scripted backend, a counting proxy, real OpenBao.

- ``ScriptedManager``: a ``SecretManager`` whose ``_fetch`` counts calls and can be held, slowed
  down or made to fail, for the manager-layer rules (single flight, refresh ahead, outages).
- ``CountingProxy``: a loopback HTTP proxy in front of a real server that counts requests by
  method and path (and can add latency), so a test sees how many reads reached the backend.
- ``openbao_dev_server()``: a real ``bao server -dev`` on a free loopback port.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from libs.secrets import SecretManager, SecretNotFoundError
from libs.secrets.errors import SecretManagerError


class ScriptedManager(SecretManager):
    """A manager over a dict, with hooks: ``holds`` (block a key's reads until set), ``delay``,
    ``failure``; ``calls`` lists the keys read, ``entered`` is set by the first read."""

    backend = "scripted"

    def __init__(self, values: dict[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.values = dict(values or {})
        self.calls: list[str] = []
        self.threads: list[str] = []
        self.holds: dict[str, threading.Event] = {}
        self.released: list[bool] = []  # per held read: released (True) or timed out
        self.entered = threading.Event()
        self.delay = 0.0
        self.failure: SecretManagerError | None = None

    def _fetch(self, key: str, secret_path: str, field: str) -> str:
        self.calls.append(key)
        self.threads.append(threading.current_thread().name)
        self.entered.set()
        hold = self.holds.get(key)
        if hold is not None:
            self.released.append(hold.wait(10))
        if self.delay:
            time.sleep(self.delay)
        if self.failure is not None:
            raise self.failure
        if key not in self.values:
            raise SecretNotFoundError(f"no secret {key!r}", backend=self.backend, key=key)
        return self.values[key]


def in_threads(count: int, read: Callable[[], str]) -> list[str | BaseException]:
    """Run ``read`` in ``count`` threads released together; each one's value or exception."""
    start = threading.Barrier(count)
    results: list[str | BaseException] = [""] * count

    def worker(index: int) -> None:
        start.wait()
        try:
            results[index] = read()
        except BaseException as exc:
            results[index] = exc

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class CountingProxy:
    """Forwards every request to ``upstream`` and counts it; ``latency`` delays each one."""

    def __init__(self, upstream: str, *, latency: float = 0.0) -> None:
        self.upstream = upstream.removeprefix("http://").rstrip("/")
        self.latency = latency
        self.counts: Counter[tuple[str, str]] = Counter()
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length) if length else None
                with proxy._lock:
                    proxy.counts[(self.command, self.path.split("?")[0])] += 1
                if proxy.latency:
                    time.sleep(proxy.latency)
                conn = http.client.HTTPConnection(proxy.upstream, timeout=30)
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                conn.request(self.command, self.path, body=body, headers=headers)
                response = conn.getresponse()
                data = response.read()
                conn.close()
                self.send_response(response.status)
                for name, value in response.getheaders():
                    if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                self._forward()

            def do_POST(self) -> None:
                self._forward()

            def do_PUT(self) -> None:
                self._forward()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.request_queue_size = 512
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def count(self, method: str, path: str) -> int:
        with self._lock:
            return self.counts[(method, path)]

    def total(self) -> int:
        with self._lock:
            return sum(self.counts.values())

    def reset(self) -> None:
        with self._lock:
            self.counts.clear()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class OpenBao:
    """A running ``bao server -dev``: ``url``, ``token``, ``put(path, data)``."""

    def __init__(self, url: str, token: str) -> None:
        self.url = url
        self.token = token

    def _request(self, method: str, path: str, data: object = None) -> Any:
        body = None if data is None else json.dumps(data).encode()
        request = urllib.request.Request(
            f"{self.url}/v1/{path}",
            data=body,
            method=method,
            headers={"X-Vault-Token": self.token, "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            text = response.read()
        return json.loads(text) if text else None

    def put(self, path: str, data: dict[str, str]) -> None:
        """Write a KV v2 secret at ``secret/<path>``."""
        self._request("POST", f"secret/data/{path}", {"data": data})


@contextlib.contextmanager
def openbao_dev_server() -> Iterator[OpenBao | None]:
    """A real OpenBao dev server (KV v2 at ``secret/``), or None when ``bao`` is missing."""
    binary = shutil.which("bao") or shutil.which("bao", path=os.path.dirname(sys.executable))
    if binary is None:
        yield None
        return
    port = free_port()
    process = subprocess.Popen(
        [
            binary,
            "server",
            "-dev",
            "-dev-root-token-id=root",
            f"-dev-listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    server = OpenBao(f"http://127.0.0.1:{port}", "root")
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{server.url}/v1/sys/health", timeout=2) as reply:
                    if reply.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError("bao server -dev did not become ready")
            time.sleep(0.1)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
