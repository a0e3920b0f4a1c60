"""The Vault source's raw HTTP/1.1 connection against canned answers from a loopback socket."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest
from secrets_agent.sources.result import InvalidResponseError
from secrets_agent.sources.vault.wire import Connection, MalformedAnswerError

Server = tuple[int, list[bytes], list[bytes]]
REQUEST = b"GET /v1/secret/data/x HTTP/1.1\r\nHost: h\r\n\r\n"


@pytest.fixture
def server() -> Iterator[Server]:
    """Answers each request on a connection with the next canned reply; records requests."""
    replies: list[bytes] = []
    seen: list[bytes] = []
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                while replies:
                    data = conn.recv(65536)
                    if not data:
                        break
                    seen.append(data)
                    reply = replies.pop(0)
                    if reply == b"DROP":
                        break
                    conn.sendall(reply)
                    if b"Connection: close" in reply or b"HTTP/1.0" in reply:
                        break

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[1], replies, seen
    listener.close()


def _conn(port: int) -> Connection:
    return Connection("127.0.0.1", port, timeout=2.0, context=None)


def test_length_delimited_answers_keep_the_connection(
    server: tuple[int, list[bytes], list[bytes]],
) -> None:
    port, replies, seen = server
    replies += [
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
        b"HTTP/1.1 429 Too Many\r\nRetry-After: 3\r\ncontent-length: 0\r\n\r\n",
    ]
    conn = _conn(port)
    first = conn.get(REQUEST)
    assert (first.status, first.body, first.keep_alive) == (200, b"{}", True)
    second = conn.get(REQUEST)
    assert (second.status, second.retry_after, second.body) == (429, 3.0, b"")
    assert seen == [REQUEST, REQUEST]
    conn.close()


def test_chunked_and_read_to_eof_bodies(server: Server) -> None:
    port, replies, _ = server
    replies += [
        b"HTTP/1.1 100 Continue\r\n\r\n"
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b'3;x=y\r\n{"a\r\n6\r\n": 1 }\r\n0\r\nTrailer: t\r\n\r\n',
        b'HTTP/1.0 200 OK\r\n\r\n{"b": 2}',
    ]
    conn = _conn(port)
    first = conn.get(REQUEST)
    assert (first.status, first.body, first.keep_alive) == (200, b'{"a": 1 }', True)
    second = conn.get(REQUEST)
    assert (second.body, second.keep_alive) == (b'{"b": 2}', False)


def test_connection_close_and_drops(server: Server) -> None:
    port, replies, _ = server
    replies += [b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", b"DROP"]
    conn = _conn(port)
    assert conn.get(REQUEST).keep_alive is False
    conn = _conn(port)
    with pytest.raises(ConnectionError):
        conn.get(REQUEST)


def test_oversized_and_malformed_answers(server: Server) -> None:
    port, replies, _ = server
    replies += [b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999\r\n\r\n", b"garbage\r\n\r\n"]
    with pytest.raises(InvalidResponseError, match="larger than 64 MiB, the most one read"):
        _conn(port).get(REQUEST)
    with pytest.raises(MalformedAnswerError):
        _conn(port).get(REQUEST)
