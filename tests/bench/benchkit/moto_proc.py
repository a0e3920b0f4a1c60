"""Run moto's server in its own process, counting Secrets Manager API calls by action.

Started by :class:`benchkit.procs.ServerProcess` as ``python moto_proc.py``. Prints one JSON
line ``{"url": ...}`` when ready. Besides moto's own API it answers:

- ``GET /__bench/counts``: ``{"total": N, "actions": {"GetSecretValue": n, ...}}``
- ``POST /__bench/reset``: zero the counters

It stops when its stdin closes or reads ``quit``.
"""

from __future__ import annotations

import json
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

StartResponse = Callable[..., Any]


class CountingApp:
    """WSGI middleware counting requests per ``X-Amz-Target`` action."""

    def __init__(self, app: Callable[[dict[str, Any], StartResponse], Iterable[bytes]]) -> None:
        self.app = app
        self.lock = threading.Lock()
        self.counts: Counter[str] = Counter()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/__bench/counts":
            with self.lock:
                body = json.dumps(
                    {"total": sum(self.counts.values()), "actions": dict(self.counts)}
                ).encode()
            start_response("200 OK", [("Content-Type", "application/json")])
            return [body]
        if path == "/__bench/reset":
            with self.lock:
                self.counts.clear()
            start_response("200 OK", [("Content-Type", "application/json")])
            return [b"{}"]
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        action = target.rsplit(".", 1)[-1] if target else f"{environ.get('REQUEST_METHOD')} {path}"
        with self.lock:
            self.counts[action] += 1
        return self.app(environ, start_response)


def main() -> int:
    import logging

    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    app = CountingApp(DomainDispatcherApplication(create_backend_app))
    server = make_server("127.0.0.1", 0, app, True, request_handler=MotoRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    print(json.dumps({"url": f"http://127.0.0.1:{server.server_port}"}), flush=True)
    for line in sys.stdin:
        if line.strip() == "quit":
            break
    server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
