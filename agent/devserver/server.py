"""``VaultDevServer``: start/stop the dev server and drive its state and faults from Python."""

from __future__ import annotations

import json
import os
import threading
from collections import deque
from types import TracebackType
from typing import Any

from secrets_agent.devserver.faults import Faults
from secrets_agent.devserver.flavor import DEFAULT_FLAVOR, flavor_named
from secrets_agent.devserver.handlers.approle import secret_id_answer
from secrets_agent.devserver.handlers.wrapping import wrap_payload
from secrets_agent.devserver.httpd import DevHTTPServer
from secrets_agent.devserver.kvstore import KVv1
from secrets_agent.devserver.listen import is_loopback, server_tls_context
from secrets_agent.devserver.state import VaultState
from secrets_agent.devserver.wire import DEFAULT_LEASE_SECONDS, envelope

MAX_REQUEST_BYTES = 32 * 1024 * 1024
_RECORD_LIMIT = 100_000


class VaultDevServer:
    """An in-memory, Vault-API-compatible HTTP server on loopback for tests and demos.

    ``with VaultDevServer() as vault:`` starts it on a free port; ``vault.url`` and
    ``vault.root_token`` are what a client needs. Non-loopback hosts need ``allow_remote=True``.
    With ``tls_cert`` and ``tls_key`` (PEM files; the certificate file may hold the chain) it
    speaks HTTPS only and ``vault.url`` is ``https://...``. ``flavor`` picks whose words it
    answers in: ``"vault"`` (current HashiCorp Vault, the default) or ``"openbao"`` (see
    ``flavor``); ValueError for any other.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        root_token: str | None = None,
        *,
        allow_remote: bool = False,
        max_request_bytes: int = MAX_REQUEST_BYTES,
        tls_cert: str | os.PathLike[str] | None = None,
        tls_key: str | os.PathLike[str] | None = None,
        flavor: str = DEFAULT_FLAVOR,
    ) -> None:
        if not allow_remote and not is_loopback(host):
            raise ValueError(f"refusing to bind non-loopback address {host!r}")
        self._tls = server_tls_context(tls_cert, tls_key)
        self.host, self.port = host, port
        self.max_request_bytes = max_request_bytes
        self._state = VaultState(root_token, flavor_named(flavor))
        self._faults = Faults()
        self._httpd: DevHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._count = 0
        self._requests: deque[tuple[str, str]] = deque(maxlen=_RECORD_LIMIT)
        self._record_lock = threading.Lock()

    # -- lifecycle ----------------------------------------------------------------------
    def start(self) -> VaultDevServer:
        """Bind and serve in a daemon thread; returns self."""
        if self._httpd is not None:
            return self
        self._faults.restarting()
        httpd = DevHTTPServer((self.host, self.port), self._state, self._faults,
                              self.max_request_bytes, self._tls)  # fmt: skip
        httpd.recorder = self._record
        self.port = httpd.server_address[1]
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
            name=f"vault-dev-server:{self.port}", daemon=True,
        )  # fmt: skip
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, close every connection and release the port."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        self._faults.stopping()
        httpd.shutdown()
        httpd.server_close()
        httpd.close_connections()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> VaultDevServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:  # fmt: skip
        self.stop()

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        scheme = "https" if self._tls is not None else "http"
        return f"{scheme}://{host}:{self.port}"

    @property
    def tls(self) -> bool:
        """Whether the server speaks HTTPS."""
        return self._tls is not None

    @property
    def flavor(self) -> str:
        """Whose words the server answers in: ``"vault"`` or ``"openbao"``."""
        return self._state.flavor.name

    @property
    def root_token(self) -> str:
        return self._state.root_token

    # -- seal ---------------------------------------------------------------------------
    @property
    def sealed(self) -> bool:
        return self._state.sealed

    def seal(self) -> None:
        with self._state.lock:
            self._state.sealed = True

    def unseal(self) -> None:
        with self._state.lock:
            self._state.sealed = False

    # -- secrets ------------------------------------------------------------------------
    def put_secret(self, path: str, data: dict[str, Any], mount: str = "secret") -> int:
        """Write ``data`` at ``path`` (a new KV v2 version, or a KV v1 overwrite); returns the
        version number (always 1 on KV v1)."""
        if not isinstance(data, dict):
            raise TypeError("data must be a dict")
        data = json.loads(json.dumps(data))  # a private copy; TypeError if not JSON-serializable
        with self._state.lock:
            engine = self._state.kv(mount)
            if isinstance(engine, KVv1):
                engine.write(path.strip("/"), data)
                return 1
            return engine.write(path.strip("/"), data)[1]

    def delete_secret(self, path: str, mount: str = "secret") -> None:
        """Soft-delete the latest version (KV v2) or delete the entry (KV v1)."""
        with self._state.lock:
            engine = self._state.kv(mount)
            if isinstance(engine, KVv1):
                engine.delete(path.strip("/"))
            else:
                engine.soft_delete(path.strip("/"))

    def enable_kv(self, mount: str = "kv1", version: int = 1) -> None:
        """Mount a KV engine of ``version`` at ``mount``; ValueError if taken."""
        with self._state.lock:
            self._state.enable_kv(mount, version)

    # -- tokens and auth methods ----------------------------------------------------------
    def create_token(self, policies: list[str] | None = None, paths: list[str] | None = None,
                     ttl: float | None = None, renewable: bool = True) -> str:  # fmt: skip
        """A new service token. ``paths``: the policy paths it may use, exact unless they end
        in ``*`` (``policy``; None = any); ``ttl`` seconds (None = 768h, as Vault's default)."""
        with self._state.lock:
            token = self._state.tokens.create(
                policies=policies, paths=paths, ttl=DEFAULT_LEASE_SECONDS if ttl is None else ttl,
                renewable=renewable,
            )  # fmt: skip
            return token.id

    def revoke_token(self, token: str) -> None:
        with self._state.lock:
            self._state.tokens.revoke(token)

    def enable_approle(self, role: str = "agent", paths: list[str] | None = None,
                       token_ttl: float | None = None, *, mount: str = "approle",
                       policies: list[str] | None = None,
                       bind_secret_id: bool = True) -> tuple[str, str]:  # fmt: skip
        """Enable AppRole (if needed), create/update ``role``; returns (role_id, secret_id).
        With ``bind_secret_id=False`` a login needs only the role_id."""
        with self._state.lock:
            found = self._state.approle(mount, role, paths=paths, token_ttl=token_ttl or 0.0,
                                        policies=list(policies or []),
                                        bind_secret_id=bind_secret_id)  # fmt: skip
        return found.role_id, self.new_secret_id(role, mount=mount)

    def new_secret_id(self, role: str = "agent", *, mount: str = "approle") -> str:
        """A fresh secret_id for an existing AppRole role."""
        with self._state.lock:
            secret_id: str = self._state.auth_mounts[mount].roles[role].new_secret_id()[0]
            return secret_id

    def wrapped_secret_id(self, role: str = "agent", *, mount: str = "approle",
                          wrap_ttl: float = 300.0) -> str:  # fmt: skip
        """A fresh secret_id for ``role``, response-wrapped: the single-use wrapping token that
        ``sys/wrapping/unwrap`` exchanges for it (as ``secret-id`` with ``X-Vault-Wrap-TTL``)."""
        with self._state.lock:
            made = self._state.auth_mounts[mount].roles[role].new_secret_id()
            answer = envelope(secret_id_answer(*made), mount_type="approle")
            path = f"auth/{mount}/role/{role}/secret-id"
            return wrap_payload(self._state, answer, path, wrap_ttl)

    def revoke_secret_id(self, role: str, secret_id: str, *, mount: str = "approle") -> None:
        with self._state.lock:
            self._state.auth_mounts[mount].roles[role].secret_ids.pop(secret_id, None)

    def enable_kubernetes(self, role: str = "app", jwt: str = "", paths: list[str] | None = None,
                          token_ttl: float | None = None, *, mount: str = "kubernetes",
                          policies: list[str] | None = None) -> None:  # fmt: skip
        """Enable Kubernetes auth (if needed) with ``role`` accepting exactly ``jwt`` (more
        calls add more); a role never given a JWT accepts no login."""
        with self._state.lock:
            found = self._state.kubernetes_role(mount, role, paths=paths,
                                                token_ttl=token_ttl or 0.0,
                                                policies=list(policies or []))  # fmt: skip
            if jwt:
                found.jwts.add(jwt)

    # -- faults -------------------------------------------------------------------------
    def deny(self, prefix: str, token: str | None = None) -> None:
        """403 permission denied for paths under ``prefix`` (for ``token``, or every token)."""
        self._faults.deny(prefix, token)

    def fail_next(self, n: int, status: int = 500, retry_after: float | None = None) -> None:
        """The next ``n`` requests (health and seal-status excepted) fail with ``status``."""
        self._faults.fail_next(n, status, retry_after)

    def set_latency(self, seconds: float) -> None:
        self._faults.latency = max(0.0, float(seconds))

    def drop_next(self, n: int) -> None:
        """Close the next ``n`` requests' connections without answering."""
        self._faults.drop_next(n)

    def hang(self, on: bool = True) -> None:
        """While on, requests are read but not answered (until turned off or stop())."""
        self._faults.hang(on)

    def clear_faults(self) -> None:
        """Remove every injected fault (failures, drops, denials, latency, hang)."""
        self._faults.clear()

    # -- request log --------------------------------------------------------------------
    def _record(self, method: str, path: str) -> None:
        with self._record_lock:
            self._count += 1
            self._requests.append((method, path))

    @property
    def request_count(self) -> int:
        return self._count

    @property
    def requests(self) -> list[tuple[str, str]]:
        """A snapshot of (method, path) of recent requests, e.g. ("GET", "/v1/secret/data/a")."""
        with self._record_lock:
            return list(self._requests)

    def reset_counters(self) -> None:
        with self._record_lock:
            self._count = 0
            self._requests.clear()
