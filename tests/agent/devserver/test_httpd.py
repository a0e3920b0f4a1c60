"""The wire itself: headers, keep-alive, bad input, unknown paths and methods, body limits."""

from __future__ import annotations

import http.client
import json
import socket

import pytest
from secrets_agent.devserver import VaultDevServer


def _conn(vault: VaultDevServer) -> http.client.HTTPConnection:
    return http.client.HTTPConnection("127.0.0.1", vault.port, timeout=5)


def _call(
    vault: VaultDevServer, method: str, path: str, body: bytes | None = None, token: bool = True
) -> tuple[int, dict[str, str], bytes]:
    conn = _conn(vault)
    headers = {"X-Vault-Token": vault.root_token} if token else {}
    conn.request(method, path, body=body, headers=headers)
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp.status, dict(resp.getheaders()), data


def test_headers_exact(vault: VaultDevServer) -> None:
    vault.put_secret("a", {"k": "v"})
    status, headers, body = _call(vault, "GET", "/v1/secret/data/a")
    assert status == 200 and headers["Content-Type"] == "application/json"
    assert headers["Cache-Control"] == "no-store" and body.endswith(b"\n")
    status, headers, _ = _call(vault, "GET", "/v1/secret/data/missing")
    assert status == 404 and headers["Content-Type"] == "application/json"


def test_no_content_has_empty_body(vault: VaultDevServer) -> None:
    vault.put_secret("a", {"k": "v"})
    status, headers, body = _call(vault, "DELETE", "/v1/secret/data/a")
    assert status == 204 and body == b"" and headers["Content-Type"] == "application/json"


def test_keep_alive_serves_many_requests_on_one_connection(vault: VaultDevServer) -> None:
    vault.put_secret("a", {"k": "v"})
    conn = _conn(vault)
    for _ in range(5):
        conn.request("GET", "/v1/secret/data/a", headers={"X-Vault-Token": vault.root_token})
        resp = conn.getresponse()
        assert resp.status == 200 and json.loads(resp.read())["data"]["data"] == {"k": "v"}
    conn.close()


def test_malformed_json_is_400(vault: VaultDevServer) -> None:
    status, _, body = _call(vault, "POST", "/v1/secret/data/a", body=b'{"data": {')
    assert status == 400 and json.loads(body) == {"errors": ["error parsing JSON"]}
    status, _, body = _call(vault, "POST", "/v1/secret/data/a", body=b"[1, 2]")
    assert status == 400 and json.loads(body) == {"errors": ["error parsing JSON"]}


def test_missing_data_is_400(vault: VaultDevServer) -> None:
    status, _, body = _call(vault, "POST", "/v1/secret/data/a", body=b'{"options": {}}')
    assert status == 400 and json.loads(body) == {"errors": ["no data provided"]}


def test_path_outside_v1_is_404_empty_errors(vault: VaultDevServer) -> None:
    status, _, body = _call(vault, "GET", "/nothing/here")
    assert status == 404 and json.loads(body) == {"errors": []}


def test_unsupported_path_under_auth(vault: VaultDevServer) -> None:
    status, _, body = _call(vault, "GET", "/v1/auth/token/no-such-thing")
    assert status == 404 and json.loads(body) == {"errors": ["unsupported path"]}


def test_unknown_method_is_405(vault: VaultDevServer) -> None:
    status, _, body = _call(vault, "BREW", "/v1/secret/data/a")
    assert status == 405 and json.loads(body) == {"errors": []}


def test_unsupported_operation_is_405(vault: VaultDevServer) -> None:
    status, _, body = _call(vault, "LIST", "/v1/secret/data/")
    assert status == 405 and json.loads(body) == {"errors": ["unsupported operation"]}


def test_bad_list_value_is_400(vault: VaultDevServer) -> None:
    status, _, body = _call(vault, "GET", "/v1/secret/metadata/?list=maybe")
    assert status == 400 and json.loads(body) == {"errors": []}


def test_oversized_body_is_413() -> None:
    with VaultDevServer(max_request_bytes=1024) as vault:
        payload = json.dumps({"data": {"k": "x" * 4096}}).encode()
        status, headers, body = _call(vault, "POST", "/v1/secret/data/a", body=payload)
        assert status == 413 and headers["Content-Type"] == "application/json"
        assert json.loads(body) == {"errors": ["error parsing JSON"]}
        status, _, _ = _call(vault, "POST", "/v1/secret/data/a", body=b'{"data": {"k": "v"}}')
        assert status == 200


def test_default_limit_is_32_mib(vault: VaultDevServer) -> None:
    assert vault.max_request_bytes == 32 * 1024 * 1024


def test_merge_patch_needs_its_content_type(vault: VaultDevServer) -> None:
    vault.put_secret("a", {"u": "1", "p": "2"})
    conn = _conn(vault)
    headers = {"X-Vault-Token": vault.root_token, "Content-Type": "application/json"}
    conn.request("PATCH", "/v1/secret/data/a", body=b'{"data": {"p": null}}', headers=headers)
    resp = conn.getresponse()
    assert resp.status == 415 and resp.read()
    headers["Content-Type"] = "application/merge-patch+json"
    conn.request("PATCH", "/v1/secret/data/a", body=b'{"data": {"p": null}}', headers=headers)
    resp = conn.getresponse()
    assert resp.status == 200 and json.loads(resp.read())["data"]["version"] == 2
    conn.request("GET", "/v1/secret/data/a", headers=headers)
    assert json.loads(conn.getresponse().read())["data"]["data"] == {"u": "1"}
    conn.close()


@pytest.mark.parametrize(
    "raw",
    [b"GARBAGE\r\n\r\n", b"GET /v1/sys/health\r\n\r\n", b"GET / HTTP/1.1\r\nno-colon\r\n\r\n"],
)
def test_garbage_request_gets_json_400_and_close(vault: VaultDevServer, raw: bytes) -> None:
    with socket.create_connection(("127.0.0.1", vault.port), timeout=5) as sock:
        sock.sendall(raw)
        reply = b""
        while chunk := sock.recv(4096):
            reply += chunk
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 ") and b"Content-Type: application/json" in head
    assert json.loads(body) == {"errors": []}


def test_chunked_body_is_read(vault: VaultDevServer) -> None:
    conn = _conn(vault)
    body = iter([b'{"data": ', b'{"k": "v"}}'])
    conn.request(
        "POST",
        "/v1/secret/data/c",
        body=body,
        encode_chunked=True,
        headers={"X-Vault-Token": vault.root_token, "Transfer-Encoding": "chunked"},
    )
    resp = conn.getresponse()
    assert resp.status == 200 and json.loads(resp.read())["data"]["version"] == 1
    conn.close()


def test_non_loopback_host_is_refused() -> None:
    with pytest.raises(ValueError, match="non-loopback"):
        VaultDevServer(host="0.0.0.0")


def test_url_and_stop_releases_port() -> None:
    vault = VaultDevServer().start()
    assert vault.url == f"http://127.0.0.1:{vault.port}"
    port = vault.port
    vault.stop()
    vault.stop()  # idempotent
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))


def test_nagle_disabled_on_accepted_sockets(vault: VaultDevServer) -> None:
    from secrets_agent.devserver import httpd as server

    seen: list[int] = []
    original = server._Handler.setup

    def spy(self: server._Handler) -> None:
        original(self)
        seen.append(self.connection.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))

    server._Handler.setup = spy  # type: ignore[method-assign]
    try:
        _call(vault, "GET", "/v1/sys/health")
    finally:
        server._Handler.setup = original  # type: ignore[method-assign]
    assert seen and seen[0] != 0
