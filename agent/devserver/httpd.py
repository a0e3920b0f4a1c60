"""HTTP/1.1 layer: a threading server on loopback with keep-alive, Nagle disabled, JSON only."""

from __future__ import annotations

import contextlib
import http.server
import logging
import socket
import socketserver
import ssl
import threading
import time
from typing import Any
from urllib.parse import parse_qsl, unquote

from secrets_agent.devserver.faults import Faults
from secrets_agent.devserver.router import dispatch
from secrets_agent.devserver.state import VaultState
from secrets_agent.devserver.wire import Reply, Request, error

logger = logging.getLogger(__name__)

HANDSHAKE_TIMEOUT = 10.0
MAX_LINE = 65536
MAX_HEADERS = 200
DRAIN_LIMIT = 256 * 1024 * 1024  # beyond this an oversized body is not read, the socket is closed
_REASONS = {
    code: phrase for code, (phrase, _) in http.server.BaseHTTPRequestHandler.responses.items()
}


class _HangUpError(Exception):
    """Stop serving this connection (after an optional reply)."""


class DevHTTPServer(http.server.ThreadingHTTPServer):
    """ThreadingHTTPServer bound to loopback that answers with the dev server's router."""

    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], state: VaultState, faults: Faults,
                 max_request_bytes: int, tls: ssl.SSLContext | None = None) -> None:  # fmt: skip
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.tls = tls
        self.state = state
        self.faults = faults
        self.max_request_bytes = max_request_bytes
        self.recorder: Any = None
        self._conns: set[socket.socket] = set()
        self._conns_lock = threading.Lock()
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # Skip HTTPServer.server_bind: it resolves the host name (slow, pointless on loopback).
        socketserver.TCPServer.server_bind(self)
        self.server_name = str(self.server_address[0])
        self.server_port = int(self.server_address[1])

    def get_request(self) -> tuple[socket.socket, Any]:
        conn, address = self.socket.accept()
        if self.tls is None:
            return conn, address
        # The handshake runs in the connection's own thread (``_Handler.setup``), so a slow or
        # silent client never holds up the accept loop.
        try:
            return self.tls.wrap_socket(conn, server_side=True,
                                        do_handshake_on_connect=False), address  # fmt: skip
        except BaseException:
            conn.close()
            raise

    def track(self, conn: socket.socket, add: bool) -> None:
        with self._conns_lock:
            (self._conns.add if add else self._conns.discard)(conn)

    def close_connections(self) -> None:
        """Shut down every open client connection (keep-alive or hung)."""
        with self._conns_lock:
            conns = list(self._conns)
        for conn in conns:
            with contextlib.suppress(OSError):
                # socket.shutdown itself: SSLSocket.shutdown would also drop the TLS state
                # under the thread that is reading from it.
                socket.socket.shutdown(conn, socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        logger.debug(
            "dev server connection error from %s",
            client_address,
        )


class _Handler(socketserver.StreamRequestHandler):
    server: DevHTTPServer
    wbufsize = 0
    timeout = 600  # idle keep-alive connections are closed after this many seconds

    def setup(self) -> None:
        conn = self.request
        self.server.track(conn, True)
        try:
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if isinstance(conn, ssl.SSLSocket):
                conn.settimeout(HANDSHAKE_TIMEOUT)
                conn.do_handshake()
            super().setup()
        except BaseException:
            self.server.track(conn, False)
            raise

    def finish(self) -> None:
        self.server.track(self.connection, False)
        with contextlib.suppress(OSError):
            super().finish()

    def handle(self) -> None:
        try:
            while self._serve_one():
                pass
        except (_HangUpError, OSError, ValueError):
            pass

    def _send(self, reply: Reply, keep_alive: bool, head: bool = False) -> None:
        body = b"" if head else reply.body()
        lines = [f"HTTP/1.1 {reply.status} {_REASONS.get(reply.status, 'Unknown')}",
                 "Content-Type: application/json", "Cache-Control: no-store"]  # fmt: skip
        if reply.status != 204:
            lines.append(f"Content-Length: {len(body)}")
        lines.extend(f"{name}: {value}" for name, value in reply.headers)
        if not keep_alive:
            lines.append("Connection: close")
        self.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)

    def _fail(self, status: int) -> None:
        self._send(error(status), keep_alive=False)
        raise _HangUpError

    def _serve_one(self) -> bool:
        line = self.rfile.readline(MAX_LINE + 1)
        while line in (b"\r\n", b"\n"):
            line = self.rfile.readline(MAX_LINE + 1)
        if not line:
            return False
        if len(line) > MAX_LINE:
            self._fail(414)
        parts = line.decode("latin-1").split()
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            self._fail(400)
        method, target, version = parts
        headers: dict[str, str] = {}
        for _ in range(MAX_HEADERS):
            raw = self.rfile.readline(MAX_LINE + 1)
            if not raw:
                return False
            if raw in (b"\r\n", b"\n"):
                break
            name, sep, value = raw.decode("latin-1").partition(":")
            if not sep or not name.strip() or len(raw) > MAX_LINE:
                self._fail(400)
            headers[name.strip().lower()] = value.strip()
        else:
            self._fail(431)
        conn = headers.get("connection", "").lower()
        keep = "close" not in conn if version == "HTTP/1.1" else "keep-alive" in conn
        return self._respond(method, target, headers, keep)

    def _read_body(self, headers: dict[str, str]) -> bytes:
        limit = self.server.max_request_bytes
        if headers.get("transfer-encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            total = 0
            while True:
                size = int(self.rfile.readline(MAX_LINE).split(b";")[0].strip() or b"x", 16)
                if size == 0:
                    while self.rfile.readline(MAX_LINE) not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                total += size
                if total > limit:
                    raise _HangUpError
                chunks.append(self.rfile.read(size))
                self.rfile.readline(MAX_LINE)
        length = int(headers.get("content-length") or 0)
        if length < 0:
            raise ValueError("negative length")
        if length > limit:
            if length > DRAIN_LIMIT:
                raise _HangUpError
            remaining = length
            while remaining > 0:  # drain so that the client gets to read our 413
                got = self.rfile.read(min(remaining, 1 << 20))
                if not got:
                    raise _HangUpError
                remaining -= len(got)
            raise OverflowError
        return self.rfile.read(length) if length else b""

    def _respond(self, method: str, target: str, headers: dict[str, str], keep: bool) -> bool:
        server = self.server
        raw_path, _, query_text = target.partition("?")
        path = unquote(raw_path)
        if server.recorder is not None:
            server.recorder(method, path)
        faults = server.faults
        if faults.take_drop() or not faults.wait_while_hung():
            raise _HangUpError
        if headers.get("expect", "").lower() == "100-continue":
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        try:
            body = self._read_body(headers)
        except OverflowError:
            self._send(error(413, "error parsing JSON"), keep_alive=False)
            return False
        except ValueError:
            self._fail(400)
        if faults.latency:
            time.sleep(faults.latency)
        if not path.startswith("/v1/"):
            reply = error(404)
        else:
            query = dict(parse_qsl(query_text, keep_blank_values=True))
            req = Request(method, path[4:], query, headers, body)
            try:
                reply = dispatch(server.state, faults, req)
            except Exception as exc:  # never a traceback on the wire
                logger.error("dev server: internal error on %s %s (%s)", method, path,
                             type(exc).__name__)  # fmt: skip
                reply = error(500, "internal error")
        self._send(reply, keep, head=method == "HEAD")
        return keep
