"""Read secrets from Vault's KV engine (v2 or v1).

hvac logs in and keeps the token alive (``auth``) on one reused requests session; KV reads
go through ``kvpool``'s lean keep-alive pool, a few times cheaper in CPU per read. When a
proxy applies to the address, or an hvac client is injected, reads go through hvac instead.
hvac and requests are imported when the hvac client is first needed (``client.LazyClient``):
a sync with a token and no proxy never needs them.

With several addresses (a cluster's nodes), every request goes to the current one; a node
that gives no usable answer (``NodeUnavailableError``) hands the request to the next, which
then stays current (``libs.secrets._core.vault_addresses``). A read or a login tries each node
at most once.

On KV v2, a secret that has not changed since the agent wrote it can be confirmed without a
read: ``unchanged`` asks a directory listing with each key's current version (OpenBao's
``detailed-metadata``; ``listing``), one listing for a whole directory of secrets. Where that
cannot be listed (HashiCorp Vault, a token without ``list``), secrets are read as before.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from libs.secrets._core.vault_addresses import AddressRing
from secrets_agent.sources.base import FetchResult, data_from_object, fetch_concurrently
from secrets_agent.sources.result import (
    AccessDeniedError,
    InvalidResponseError,
    SecretData,
    SourceError,
)
from secrets_agent.sources.vault.auth import VaultAuth
from secrets_agent.sources.vault.client import LazyClient
from secrets_agent.sources.vault.errors import (
    NodeUnavailableError,
    is_invalid_token,
    map_vault_error,
    record_response_hook,
)
from secrets_agent.sources.vault.kvpool import (
    InvalidTokenError,
    KvConnectionPool,
    json_body,
    status_error,
)
from secrets_agent.sources.vault.listing import (
    PAGE,
    KvListings,
    ListingRefusedError,
    Page,
    page_stamps,
    version_stamp,
)

if TYPE_CHECKING:
    import hvac
    import requests
    from secrets_agent.config.load import VaultBackendConfig
    from secrets_agent.sources.vault.leases import VaultLeases

log = logging.getLogger(__name__)


def environ_proxies(address: str) -> dict[str, str]:
    """The proxies from the environment that requests would use for ``address``.

    requests takes them from every ``*_proxy`` variable (any case, ``no_proxy`` included);
    without one there is nothing to decide, and requests is not imported.
    """
    if not any(value and name.lower().endswith("_proxy") for name, value in os.environ.items()):
        return {}
    import requests.utils

    return dict(requests.utils.get_environ_proxies(address))


def build_session(address: str, *, pool_size: int, verify: str | bool = True) -> requests.Session:
    """A requests session that ignores ``~/.netrc`` and ``REQUESTS_CA_BUNDLE``.

    Proxies still come from ``HTTPS_PROXY``/``NO_PROXY`` when they apply to ``address``.
    ``verify`` (a CA file, or True) is set on the session itself: hvac prefers a session's
    ``verify`` over its own ``verify`` argument.
    """
    import requests
    import requests.adapters

    session = requests.Session()
    session.trust_env = False
    session.verify = verify
    session.proxies.update(environ_proxies(address))
    adapter = requests.adapters.HTTPAdapter(pool_connections=2, pool_maxsize=max(pool_size, 2))
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.hooks["response"].append(record_response_hook)
    return session


class VaultSource:
    """Fetches KV secrets; logs in lazily, and again when a read is refused with a token the
    server may have dropped."""

    name = "vault"
    batch_size = 1

    def __init__(
        self,
        config: VaultBackendConfig,
        *,
        concurrency: int = 8,
        client: hvac.Client | None = None,
    ) -> None:
        self._config = config
        self._concurrency = max(1, concurrency)
        self._session: requests.Session | None = None
        self._pools: dict[str, KvConnectionPool] = {}
        self.addresses = AddressRing(config.all_addresses)
        if client is None:
            _require_hvac()
            if not environ_proxies(config.address):
                self._pools = {
                    address: KvConnectionPool(
                        address,
                        timeout=config.timeout,
                        size=self._concurrency,
                        ca_cert=config.ca_cert,
                        namespace=config.namespace,
                    )
                    for address in self.addresses.addresses
                }
            client = LazyClient(self.addresses.current, self._build_client, self._pools)
        self._client: Any = client
        self.auth = VaultAuth(client, config.auth)
        self.listings = KvListings()

    def _build_client(self, url: str, token: str) -> hvac.Client:
        """The hvac client on its own session (``LazyClient`` calls this once)."""
        import hvac

        config = self._config
        verify: str | bool = str(config.ca_cert) if config.ca_cert else True
        self._session = build_session(config.address, pool_size=self._concurrency, verify=verify)
        return hvac.Client(
            url=url,
            token=token,  # "" until a login: never picked up from VAULT_TOKEN or ~/.vault-token
            verify=verify,
            timeout=config.timeout,
            session=self._session,
            namespace=config.namespace,
        )

    def fetch_many(self, paths: Sequence[str], *, version_stage: str | None = None) -> FetchResult:
        """Read each KV path; ``version_stage`` has no meaning for Vault and is ignored."""
        return fetch_concurrently(paths, self._fetch_one, concurrency=self._concurrency)

    def expect(self, paths: Iterable[str]) -> None:
        """The KV paths the agent will ask ``unchanged`` about (``listing.KvListings``)."""
        if self._config.kv_version == 2 and self._pools:
            self.listings.expect(paths)

    def unchanged(self, known: Mapping[str, int], *, max_age: float) -> set[str]:
        """Of ``known`` (path -> stamp of the version last read), the paths a directory
        listing at most ``max_age`` seconds old shows still at that version. Never raises: a
        path without such evidence is simply not in the answer (and is read)."""
        if self._config.kv_version != 2 or not self._pools or not known:
            return set()
        return self.listings.confirmed(known, max_age=max_age, read_page=self._list_page)

    def _list_page(self, directory: str, after: str | None) -> Page:
        """One page of ``detailed-metadata`` listing of ``directory`` at the current node."""
        pool = self._pools.get(self.addresses.current)
        if pool is None:
            raise ListingRefusedError("no connection pool for this node")
        where = f"listing {directory or '/'!r}"
        self.auth.ensure()
        query = {"list": "true", "limit": str(PAGE)}
        if after is not None:
            query["after"] = after
        path = f"{self._config.kv_mount}/detailed-metadata/{directory}"
        response = pool.get(path, self.auth.token or "", where=where, query=query)
        if response.status == 404 and after is not None:
            return [], 0, None  # nothing after the last key of a full page
        if response.status in (400, 403, 404, 405):
            raise ListingRefusedError(f"HTTP {response.status}")
        if response.status != 200:
            raise status_error(response, where, None)
        try:
            return page_stamps(json_body(response, where, None), limit=PAGE)
        except ValueError:
            raise ListingRefusedError("the answer is not a detailed-metadata listing") from None

    def pool(self, address: str | None = None) -> KvConnectionPool | None:
        """The keep-alive pool of ``address`` (default: the current node); None when reads go
        through hvac."""
        return self._pools.get(address or self.addresses.current)

    def maintain(self) -> float | None:
        """Renew or replace the token if due; return seconds until the next call is useful."""
        for attempt in range(len(self.addresses)):
            address = self.addresses.current
            try:
                self.auth.ensure()
            except NodeUnavailableError as exc:
                last_node = attempt == len(self.addresses) - 1
                if last_node or not self._move_on(address, exc):
                    log.warning("Vault token maintenance failed: %s", exc)
                    return 5.0
            except SourceError as exc:
                log.warning("Vault token maintenance failed: %s", exc)
                return 5.0
            else:
                return self.auth.seconds_until_due()
        return 5.0

    def leases(self) -> VaultLeases:
        """Leased reads (issue, renew, revoke) with this source's client and login."""
        from secrets_agent.sources.vault.leases import VaultLeases

        return VaultLeases(self._client, self.auth, self._config.address)

    def close(self) -> None:
        """Close the HTTP session and the KV connections."""
        for pool in self._pools.values():
            pool.close()
        if self._session is not None:
            self._session.close()

    def _fetch_one(self, path: str) -> SecretData | SourceError:
        """Read ``path`` at the current node; on to the next while nodes give no answer."""
        for _ in range(len(self.addresses) - 1):
            address = self.addresses.current
            result = self._fetch_at(address, path)
            if not isinstance(result, NodeUnavailableError) or not self._move_on(address, result):
                return result
        return self._fetch_at(self.addresses.current, path)

    def _move_on(self, address: str, error: SourceError) -> bool:
        """After ``address`` gave no answer: point the client at the next node. False when
        there is no other node."""
        if len(self.addresses) < 2:
            return False
        following = self.addresses.move_on(address)
        if following != address and self._client.url == address:
            self._client.url = following
            log.warning("Vault at %s: %s; trying %s", address, error, following)
        return True

    def _fetch_at(self, address: str, path: str) -> SecretData | SourceError:
        try:
            self.auth.ensure()
            token = self.auth.token
            try:
                return self._read(address, path, token)
            except Exception as exc:
                if not _refused(exc):
                    raise
                # OpenBao says only "permission denied" for a dead token: a new login decides.
                said_invalid = isinstance(exc, InvalidTokenError) or is_invalid_token(exc)
                if not self.auth.replace_refused(token, said_invalid=said_invalid):
                    raise
                return self._read(address, path, self.auth.token)
        except SourceError as exc:
            if exc.path is None:
                exc.path = path
            return exc
        except Exception as exc:
            return map_vault_error(exc, path=path, action="reading", address=address)

    def _read(self, address: str, path: str, token: str | None) -> SecretData:
        mount = self._config.kv_mount
        v1 = self._config.kv_version == 1
        response: Any
        pool = self._pools.get(address)
        if pool is not None:
            api_path = f"{mount}/{path}" if v1 else f"{mount}/data/{path}"
            response = pool.get_json(api_path, token or "", secret=path)
        elif v1:
            response = self._client.secrets.kv.v1.read_secret(path=path, mount_point=mount)
        else:
            response = self._client.secrets.kv.v2.read_secret_version(
                path=path, mount_point=mount, raise_on_deleted_version=True
            )
        if v1:
            return data_from_object(_get(response, "data", path), path=path, version=None)
        envelope = _get(response, "data", path)
        if not isinstance(envelope, dict):
            raise InvalidResponseError(f"secret {path!r}: KV v2 data is not an object", path=path)
        metadata = envelope.get("metadata")
        version = metadata.get("version") if isinstance(metadata, dict) else None
        if version is not None and (not isinstance(version, int) or isinstance(version, bool)):
            raise InvalidResponseError(f"secret {path!r}: KV v2 version is not a number", path=path)
        data = data_from_object(
            envelope.get("data"),
            path=path,
            # Kept once per number: every secret's state holds its version.
            version=None if version is None else sys.intern(str(version)),
        )
        if version is not None and isinstance(metadata, dict) and self.listings.may_confirm(path):
            data.stamp = version_stamp(version, metadata.get("created_time"))
        return data


def _require_hvac() -> None:
    """Raise hvac's ImportError now, at set-up, when it is not installed (without importing
    it: it is imported when first needed)."""
    try:
        found = importlib.util.find_spec("hvac") is not None
    except ValueError:  # in sys.modules without a spec
        found = False
    if not found:
        import hvac  # noqa: F401 - raises the ImportError that names it


def _refused(exc: BaseException) -> bool:
    """A 401/403 answer to a read: the pool's ``AccessDeniedError``, or hvac's exceptions
    (reads through hvac have imported it)."""
    if isinstance(exc, AccessDeniedError):
        return True
    exceptions = getattr(sys.modules.get("hvac"), "exceptions", None)
    return exceptions is not None and isinstance(
        exc, exceptions.Forbidden | exceptions.Unauthorized
    )


def _get(response: Any, key: str, path: str) -> Any:
    if not isinstance(response, dict):
        raise InvalidResponseError(
            f"secret {path!r}: Vault answered without a JSON body", path=path
        )
    return response.get(key)
