"""One persistent HTTP/1.1 connection that sends a GET and reads the answer, nothing more.

``http.client`` parses every response's headers with the ``email`` package and builds each
request header by header; for a KV read that is most of the client's CPU (and importing it,
with ``email``, costs a one-shot sync more than its reads). This connection writes
the request as one prepared byte string and reads the status line, the few headers it needs
(``Content-Length``, ``Transfer-Encoding``, ``Connection``, ``Retry-After``) and the body
(length-delimited, chunked, or up to EOF). Anything else in the answer is skipped.
"""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING

from libs.secrets._core.failures import parse_retry_after
from secrets_agent.sources.result import InvalidResponseError

if TYPE_CHECKING:
    import ssl

MAX_LINE = 65536
MAX_HEADERS = 100
# A guard against a runaway answer: twice the largest secret (``sources.base.MAX_SECRET_BYTES``,
# Vault's default 32 MiB request limit), room for JSON escaping and the KV envelope.
MAX_BODY = 64 * 1024 * 1024
_OVERSIZED = f"Vault's answer is larger than {MAX_BODY // 2**20} MiB, the most one read accepts"


class DisconnectedError(ConnectionResetError):
    """The server closed the connection before the whole answer arrived."""


class MalformedAnswerError(Exception):
    """The answer does not start like an HTTP/1.x answer (or has too many headers)."""


class Response:
    """Status, ``Retry-After`` (seconds, for 429), body, and whether the connection stays open."""

    __slots__ = ("body", "keep_alive", "retry_after", "status")

    def __init__(self, status: int, retry_after: float | None, body: bytes, keep: bool) -> None:
        self.status = status
        self.retry_after = retry_after
        self.body = body
        self.keep_alive = keep


class Connection:
    """A TCP (or TLS) connection with ``TCP_NODELAY``; opened by the constructor."""

    def __init__(
        self, host: str, port: int, *, timeout: float, context: ssl.SSLContext | None
    ) -> None:
        sock = socket.create_connection((host, port), timeout=timeout)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if context is not None:
                sock = context.wrap_socket(sock, server_hostname=host)
        except BaseException:
            sock.close()
            raise
        self._sock = sock
        self._reader = sock.makefile("rb")

    def get(self, request: bytes) -> Response:
        """Send a complete request and read its response.

        Raises ``DisconnectedError`` when the server closed the connection before answering,
        ``MalformedAnswerError``/``InvalidResponseError`` for a broken answer, ``OSError``/
        ``TimeoutError`` from the socket.
        """
        self._sock.sendall(request)
        reader = self._reader
        while True:
            line = reader.readline(MAX_LINE + 1)
            if not line:
                raise DisconnectedError("connection closed without a response")
            version, _, rest = line.partition(b" ")
            code = rest[:3]
            if not version.startswith(b"HTTP/1.") or not code.isdigit():
                raise MalformedAnswerError("malformed status line")
            status = int(code)
            length, chunked, close, retry_after = self._headers(version == b"HTTP/1.0")
            if status >= 200:
                break
            # 1xx: an interim answer without a body; the real one follows.
        if status in (204, 304):
            body = b""
        elif chunked:
            body = self._read_chunked()
        elif length is not None:
            body = reader.read(length)
            if len(body) != length:
                raise DisconnectedError("connection closed inside the response body")
        else:
            body = reader.read(MAX_BODY + 1)
            close = True
        if len(body) > MAX_BODY:
            raise InvalidResponseError(_OVERSIZED)
        return Response(status, retry_after if status == 429 else None, body, not close)

    def _headers(self, http10: bool) -> tuple[int | None, bool, bool, float | None]:
        length: int | None = None
        chunked = False
        close = http10
        retry_after = None
        for _ in range(MAX_HEADERS):
            line = self._reader.readline(MAX_LINE + 1)
            if line in (b"\r\n", b"\n"):
                return length, chunked, close, retry_after
            if not line:
                raise DisconnectedError("connection closed inside the response headers")
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
                if length < 0 or length > MAX_BODY:
                    raise InvalidResponseError(_OVERSIZED)
            elif name == b"transfer-encoding":
                chunked = b"chunked" in value.lower()
            elif name == b"connection":
                token = value.strip().lower()
                close = token == b"close" or (http10 and token != b"keep-alive")
            elif name == b"retry-after":
                retry_after = parse_retry_after(value.decode("latin-1"))
        raise MalformedAnswerError("too many response headers")

    def _read_chunked(self) -> bytes:
        reader = self._reader
        chunks: list[bytes] = []
        total = 0
        while True:
            size_line = reader.readline(MAX_LINE + 1)
            if not size_line:
                raise DisconnectedError("connection closed inside a chunked body")
            size = int(size_line.split(b";", 1)[0].strip(), 16)
            if size == 0:
                while reader.readline(MAX_LINE + 1) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(chunks)
            total += size
            if total > MAX_BODY:
                raise InvalidResponseError(_OVERSIZED)
            chunk = reader.read(size)
            if len(chunk) != size:
                raise DisconnectedError("connection closed inside a chunked body")
            chunks.append(chunk)
            reader.readline(MAX_LINE + 1)  # the CRLF after the chunk

    def close(self) -> None:
        """Close the socket (idempotent)."""
        self._reader.close()
        self._sock.close()
