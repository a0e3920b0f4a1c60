"""A fault-injecting HTTP front for moto's server: counts calls and fails chosen operations.

moto cannot produce ThrottlingException, InternalServiceError or AccessDeniedException in the
right wire format, so tests point boto3 at this front, which answers those faults itself and
forwards everything else to moto unchanged.
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class _Fault:
    code: str
    status: int
    remaining: int
    retry_after: float | None


class AwsFaultFront:
    """``with AwsFaultFront(moto_url) as front: front.url; front.fail("GetSecretValue", ...)``."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.calls: Counter[str] = Counter()
        self._faults: dict[str, list[_Fault]] = {}
        self._lock = threading.Lock()
        front = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                target = self.headers.get("X-Amz-Target", "")
                operation = target.rsplit(".", 1)[-1]
                fault = front._take(operation)
                if fault is not None:
                    self._fault(fault)
                else:
                    self._forward(body)

            def _fault(self, fault: _Fault) -> None:
                payload = json.dumps({"__type": fault.code, "message": "injected"}).encode()
                self.send_response(fault.status)
                self.send_header("Content-Type", "application/x-amz-json-1.1")
                self.send_header("x-amzn-ErrorType", fault.code)
                if fault.retry_after is not None:
                    self.send_header("Retry-After", str(fault.retry_after))
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def _forward(self, body: bytes) -> None:
                headers = {
                    k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")
                }
                request = urllib.request.Request(
                    front.upstream + self.path, data=body, headers=headers, method="POST"
                )
                try:
                    with urllib.request.urlopen(request, timeout=10) as response:
                        status, data, ctype = response.status, response.read(), response.headers
                except urllib.error.HTTPError as exc:
                    status, data, ctype = exc.code, exc.read(), exc.headers
                self.send_response(status)
                self.send_header("Content-Type", ctype.get("Content-Type", "application/json"))
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(  # a short poll: stop() returns at once
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def fail(
        self,
        operation: str,
        code: str,
        *,
        status: int = 400,
        times: int = 1,
        retry_after: float | None = None,
    ) -> None:
        """Answer the next ``times`` calls of ``operation`` with error ``code``."""
        with self._lock:
            self._faults.setdefault(operation, []).append(_Fault(code, status, times, retry_after))

    def _take(self, operation: str) -> _Fault | None:
        with self._lock:
            self.calls[operation] += 1
            queue = self._faults.get(operation) or []
            while queue and queue[0].remaining <= 0:
                queue.pop(0)
            if not queue:
                return None
            queue[0].remaining -= 1
            return queue[0]

    def start(self) -> AwsFaultFront:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> AwsFaultFront:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
