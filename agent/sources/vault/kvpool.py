"""A lean HTTP/1.1 keep-alive client for Vault KV reads.

hvac + requests spend about 0.3-0.5 ms of CPU per request (request preparation, header
merging, response parsing), all of it under the GIL, so a thread pool cannot read faster than
one thread. A KV read is one GET with two headers; this client does just that: a bounded pool of
persistent connections (``wire``; one per worker thread at a time), ``TCP_NODELAY``, TLS
from the configured CA file, and the same classification as ``errors.map_vault_error``.
Logging in and the token's lifetime stay with hvac (``auth``).

Response bodies hold secret values: they are never logged and never put in an exception
message; only the HTTP status and Vault's ``errors`` strings are.
"""

from __future__ import annotations

import json
import ssl
import threading
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import quote, urlencode, urlsplit

from libs.secrets._core import vault_answers
from secrets_agent.sources.result import (
    AccessDeniedError,
    AuthenticationError,
    BackendUnavailableError,
    InvalidResponseError,
    SourceError,
)
from secrets_agent.sources.vault.errors import (
    NodeUnavailableError,
    source_error,
    tls_verification_error,
)
from secrets_agent.sources.vault.wire import (
    Connection,
    DisconnectedError,
    MalformedAnswerError,
    Response,
)

_UNSAFE_IN_HEADER = frozenset("\r\n\0")

# Failures of a kept-alive connection that the server may have closed in the meantime: the
# request is sent again once on a new connection.
_STALE = (
    DisconnectedError,
    MalformedAnswerError,
    ConnectionResetError,
    BrokenPipeError,
    ConnectionAbortedError,
)


class InvalidTokenError(AccessDeniedError):
    """Vault's 403 ``invalid token`` (expired, revoked or unknown): log in again."""


class KvConnectionPool:
    """Persistent connections to one Vault address, at most ``size`` kept idle. Thread-safe."""

    def __init__(
        self,
        address: str,
        *,
        timeout: float,
        size: int,
        ca_cert: Path | None = None,
        namespace: str | None = None,
    ) -> None:
        self._address = address
        parts = urlsplit(address)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"Vault address must be http(s)://host[:port], got {address!r}")
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port or (443 if self._https else 80)
        self._prefix = parts.path.rstrip("/")
        self._timeout = timeout
        self._size = max(1, size)
        self._context: ssl.SSLContext | None = None
        if self._https:
            self._context = ssl.create_default_context(cafile=_ca_file(ca_cert))
        host = f"[{self._host}]" if ":" in self._host else self._host
        default_port = 443 if self._https else 80
        authority = host if self._port == default_port else f"{host}:{self._port}"
        headers = f"Host: {authority}\r\nX-Vault-Request: true\r\nAccept: application/json\r\n"
        if namespace:
            _check_header_value(namespace, "namespace")
            headers += f"X-Vault-Namespace: {namespace}\r\n"
        self._fixed_headers = headers
        self._idle: list[Connection] = []
        self._lock = threading.Lock()
        self._closed = False
        self.opened = 0  # connections opened so far (for tests and diagnostics)

    def get_json(self, path: str, token: str, *, secret: str | None = None) -> object:
        """GET ``/v1/<path>`` with ``token``; return the decoded JSON body of a 200.

        Raises a ``SourceError`` whose ``path`` is ``secret`` (``InvalidTokenError`` for a
        token Vault no longer accepts).
        """
        where = f"reading {secret!r}" if secret else f"reading {path!r}"
        response = self.get(path, token, where=where, secret=secret)
        if response.status == 200:
            return json_body(response, where, secret)
        raise status_error(response, where, secret)

    def get(
        self,
        path: str,
        token: str,
        *,
        where: str,
        secret: str | None = None,
        query: Mapping[str, str] | None = None,
    ) -> Response:
        """GET ``/v1/<path>`` (with ``query`` parameters) with ``token``: the answer, whatever
        its status.

        Raises a ``SourceError`` (whose ``path`` is ``secret``) when there is no answer: no
        connection, a timeout, a certificate that does not verify, a token that cannot be sent.
        """
        _check_header_value(token, "token")
        target = quote(path) if not query else f"{quote(path)}?{urlencode(query)}"
        request = (
            f"GET {self._prefix}/v1/{target} HTTP/1.1\r\n{self._fixed_headers}"
            f"X-Vault-Token: {token}\r\n\r\n"
        ).encode()
        return self._request(request, where, secret)

    def _request(self, request: bytes, where: str, secret: str | None) -> Response:
        conn: Connection | None = None
        try:
            conn, reused = self._acquire()
            try:
                response = conn.get(request)
            except _STALE:
                if not reused:
                    raise
                conn.close()  # the server closed an idle connection: one more try, fresh
                conn = None
                conn = self._new()
                response = conn.get(request)
        except TimeoutError:
            _discard(conn)
            raise NodeUnavailableError(f"Vault timed out while {where}", path=secret) from None
        except ssl.SSLCertVerificationError as exc:
            _discard(conn)
            reason = " ".join(str(exc.verify_message or "certificate verify failed").split())
            raise tls_verification_error(
                reason.rstrip("."), address=self._address, where=where, path=secret
            ) from None
        except (OSError, MalformedAnswerError) as exc:
            _discard(conn)
            raise NodeUnavailableError(
                f"cannot connect to Vault at {self._address} while {where} ({type(exc).__name__})",
                path=secret,
            ) from None
        except BaseException:
            _discard(conn)
            raise
        if response.keep_alive:
            self._release(conn)
        else:
            conn.close()
        return response

    def _acquire(self) -> tuple[Connection, bool]:
        with self._lock:
            if self._closed:
                raise BackendUnavailableError("the Vault connection pool is closed")
            if self._idle:
                return self._idle.pop(), True
        return self._new(), False

    def _new(self) -> Connection:
        conn = Connection(self._host, self._port, timeout=self._timeout, context=self._context)
        with self._lock:
            self.opened += 1
        return conn

    def _release(self, conn: Connection) -> None:
        with self._lock:
            if not self._closed and len(self._idle) < self._size:
                self._idle.append(conn)
                return
        conn.close()

    def close(self) -> None:
        """Close every idle connection; connections in use are closed when returned."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()


def _ca_file(ca_cert: Path | None) -> str | None:
    """The CA bundle: the configured file, else certifi's (as requests uses), else the system's."""
    if ca_cert is not None:
        return str(ca_cert)
    try:
        import certifi
    except ImportError:
        return None
    return str(certifi.where())


def _discard(conn: Connection | None) -> None:
    if conn is not None:
        conn.close()


def _check_header_value(value: str, what: str) -> None:
    if not _UNSAFE_IN_HEADER.isdisjoint(value):
        raise AuthenticationError(f"the Vault {what} contains a line break or NUL; refused")


def _errors(body: bytes) -> list[object] | None:
    """Vault's ``errors`` list from an error body (None when the body has none)."""
    try:
        errors = json.loads(body).get("errors")
    except (ValueError, AttributeError, RecursionError):
        return None
    return errors if isinstance(errors, list) else None


def json_body(response: Response, where: str, secret: str | None) -> object:
    """The decoded JSON body of an answer met while ``where``; ``InvalidResponseError`` when
    it is not JSON (never chained: the decode error quotes part of the body)."""
    try:
        return json.loads(response.body)
    except (ValueError, RecursionError):
        raise InvalidResponseError(
            f"Vault answered {where} with a body that is not JSON", path=secret
        ) from None


def status_error(
    response: Response, where: str, secret: str | None, *, login: bool = False
) -> SourceError:
    """The ``SourceError`` for a non-200 answer met while ``where``, classified as hvac's
    exceptions are (``login``: the request was a login)."""
    status, errors = response.status, _errors(response.body)
    failure = vault_answers.classify(status, errors, login=login, retry_after=response.retry_after)
    error = source_error(failure, where=where, path=secret, login=login)
    if status == 403 and not login and vault_answers.says_invalid_token(errors):
        return InvalidTokenError(str(error), path=secret)
    return error
