"""The hvac client, built on first use, and a token lookup over the keep-alive pool without it.

Importing hvac (and requests, urllib3, charset_normalizer, idna with it) costs more CPU than
the rest of a one-shot sync of 100 secrets. With a token (``method = "token"``) and reads
through ``kvpool``, a sync makes no other call than the token's ``lookup-self`` and the KV
reads, so ``LazyClient`` answers ``auth.token.lookup_self()`` itself, over the pool of the
current address, and builds the hvac client only for everything else: AppRole and Kubernetes
logins, ``renew-self``, leases, reads through a proxy. hvac stays the client for logins and
renewals; only the token's look at itself goes without it.

The lookup answers as hvac's does: the decoded body of a 200, ``Unauthorized``/``Forbidden``
(named as hvac names them, which is how ``libs.secrets._core.vault_login`` recognises a
refusal) for a 401/403, and for any other answer the ``SourceError`` that a failed token login
maps to.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from secrets_agent.sources.result import AccessDeniedError
from secrets_agent.sources.vault.kvpool import KvConnectionPool, json_body, status_error

if TYPE_CHECKING:
    import hvac

LOOKUP_SELF = "auth/token/lookup-self"


class Unauthorized(AccessDeniedError):  # noqa: N818 - the name hvac gives a 401
    """A 401 answer to the token's lookup."""


class Forbidden(AccessDeniedError):  # noqa: N818 - the name hvac gives a 403
    """A 403 answer to the token's lookup (a token without the ``default`` policy)."""


class LazyClient:
    """Stands in for an ``hvac.Client``: ``url`` and ``token`` are kept here until the client
    is built; any other attribute builds it (``build(url, token)``) and comes from it.
    Thread-safe."""

    def __init__(
        self,
        url: str,
        build: Callable[[str, str], hvac.Client],
        pools: Mapping[str, KvConnectionPool],
    ) -> None:
        self._url = url
        self._token = ""
        self._build = build
        self._pools = pools
        self._client: hvac.Client | None = None
        self._lock = threading.Lock()
        self.auth = _Auth(self)

    @property
    def built(self) -> bool:
        """Whether the hvac client exists (hvac was imported)."""
        return self._client is not None

    def hvac(self) -> hvac.Client:
        """The hvac client, built on the first call with the current url and token."""
        with self._lock:
            if self._client is None:
                self._client = self._build(self._url, self._token)
            return self._client

    @property
    def url(self) -> str:
        return self._url

    @url.setter
    def url(self, value: str) -> None:
        with self._lock:
            self._url = value
            if self._client is not None:
                self._client.url = value

    @property
    def token(self) -> str:
        return self._token

    @token.setter
    def token(self, value: str) -> None:
        with self._lock:
            self._token = value
            if self._client is not None:
                self._client.token = value

    def lookup_self(self) -> Any:
        """``auth/token/lookup-self`` with the current token: over the current address's pool
        when there is one, else through hvac."""
        pool = self._pools.get(self._url)
        if pool is None:
            return self.hvac().auth.token.lookup_self()
        where = "token login"
        response = pool.get(LOOKUP_SELF, self._token, where=where)
        if response.status == 401:
            raise Unauthorized(f"Vault refused {where} (401)")
        if response.status == 403:
            raise Forbidden(f"Vault refused {where} (403)")
        if response.status != 200:
            raise status_error(response, where, None, login=True)
        return json_body(response, where, None)  # its body names the token: never quoted

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):  # not yet set (a half-built object): never hvac's
            raise AttributeError(name)
        return getattr(self.hvac(), name)


class _Auth:
    """``client.auth``: ``token`` here, every other auth method from hvac's client."""

    def __init__(self, client: LazyClient) -> None:
        self._client = client
        self.token = _TokenMethod(client)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client.hvac().auth, name)


class _TokenMethod:
    """``client.auth.token``: ``lookup_self`` here, the rest (``renew_self``, ...) from hvac."""

    def __init__(self, client: LazyClient) -> None:
        self._client = client

    def lookup_self(self) -> Any:
        return self._client.lookup_self()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client.hvac().auth.token, name)
