"""``VaultSecretManager``: direct reads from HashiCorp Vault's KV engine through hvac.

``get_secret("alpaca/api_key_id")`` reads KV path ``alpaca`` (mount ``VAULT_KV_MOUNT``, KV
version ``VAULT_KV_VERSION``) and returns field ``api_key_id``; a one-segment key ``name`` reads
field ``value`` of path ``name``. hvac is imported on first use. One ``requests.Session`` is
reused, with ``trust_env`` off (no proxy/netrc lookups per request) unless proxies are
configured. Auth (``vault_auth``): token (``VAULT_TOKEN`` / ``VAULT_TOKEN_FILE``), AppRole, or
Kubernetes. The token is renewed at two thirds of its TTL (checked on each cache miss) or
replaced by a new login; on a 401/403 answer to a read (a dead token looks like any refusal on
OpenBao) the manager logs in again (or re-reads a changed token file) and retries once.

``VAULT_ADDR`` may name several nodes of a cluster, separated by commas: requests go to the
node that answered last, and a read or login that gets no answer, a 5xx or a standby's answer
is tried at the next node (``_core.vault_addresses``).

TLS is verified against ``VAULT_CACERT`` when set, else requests' default bundle. A certificate
that fails verification (unknown CA, wrong host name) raises ``SecretConfigurationError``: it
is a setup problem, not an outage, so no stale value or agent file is served in its place.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from .._core.values import NestingTooDeepError, field_text
from .._core.vault_addresses import AddressRing, fails_over, split_addresses
from .._core.vault_login import TokenKeeper
from ..config import VaultConfig
from ..errors import (
    SecretAccessDeniedError,
    SecretBackendUnavailableError,
    SecretConfigurationError,
    SecretManagerError,
    SecretNotFoundError,
)
from ..logger import get_logger
from ..manager import SecretManager
from .vault_auth import login_strategy, translated
from .vault_errors import is_invalid_token, record_answer, translate_vault_error, vault_failure

_PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy")


def _import_hvac() -> Any:
    try:
        import hvac
    except ImportError as exc:
        raise SecretConfigurationError(
            "the vault backend needs hvac: pip install 'tmpfs-secrets[vault]'", backend="vault"
        ) from exc
    return hvac


class VaultSecretManager(SecretManager):
    """Reads secrets from Vault KV v2 or v1; see the module docstring."""

    backend = "vault"

    def __init__(
        self,
        config: VaultConfig | Mapping[str, object] | None = None,
        *,
        client: Any = None,
        ttl_seconds: float | None = None,
        timer: Callable[[], float] = time.monotonic,
        refresh_ahead: float | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        env = os.environ if environ is None else environ
        self.config = VaultConfig.resolve(config, env)
        if not self.config.address and client is None:
            raise SecretConfigurationError(
                "no Vault address: set VAULT_ADDR or the config's address", backend=self.backend
            )
        super().__init__(
            ttl_seconds=ttl_seconds,
            timer=timer,
            fallback_dir=self.config.secrets_dir,
            environ=env,
            refresh_ahead=refresh_ahead,
        )
        addresses = split_addresses(self.config.address)
        self._nodes = AddressRing(addresses) if len(addresses) > 1 else None
        self._strategy = login_strategy(self.config, client)
        self._trust_env = self.config.proxies is None and any(
            env.get(name) or env.get(name.upper()) for name in _PROXY_VARIABLES
        )
        self._client: Any = client
        self._owns_client = client is None
        self._keeper: TokenKeeper | None = None
        self._lock = threading.Lock()
        self._timer = timer

    # -- client and auth -------------------------------------------------------------------

    def _ensure_client(self) -> Any:
        """The client, logged in, its token renewed or replaced when due."""
        with self._lock:
            if self._client is None:
                self._client = self._build_client()
            if self._strategy is not None and self._keeper is None:
                self._keeper = TokenKeeper(self._client, self._strategy, clock=self._timer)
        if self._keeper is not None:
            with translated(self._login_where()):
                self._keeper.ensure()
        return self._client

    def _login_where(self) -> str:
        method = self._strategy.method if self._strategy is not None else "client"
        return f"Vault {method} login at {self.config.address}"

    def _build_client(self) -> Any:
        hvac = _import_hvac()
        import requests

        cfg = self.config
        verify: str | bool = str(cfg.ca_cert) if cfg.ca_cert else True
        session = requests.Session()
        session.trust_env = self._trust_env
        session.verify = verify  # hvac prefers the session's verify over its own argument
        session.hooks["response"].append(record_answer)  # statuses hvac's exceptions lose
        return hvac.Client(
            url=self._nodes.current if self._nodes is not None else cfg.address,
            verify=verify,
            timeout=cfg.timeout,
            proxies=cfg.proxies,
            session=session,
            namespace=cfg.namespace,
        )

    def _replace_refused(self, token: str | None, *, said_invalid: bool) -> bool:
        """After a 401/403 with ``token``: True when a new token is in place to retry with."""
        if self._keeper is None:
            return False
        with translated(self._login_where()):
            return self._keeper.replace_refused(token, said_invalid=said_invalid)

    # -- reads -----------------------------------------------------------------------------

    def _fetch(self, key: str, secret_path: str, field: str) -> str:
        path = secret_path or key
        name = field if secret_path else "value"
        where = f"secret {key!r} (Vault {self.config.kv_mount}/{path} at {self.config.address})"
        try:
            data = self._read_across_nodes(path, where)
        except SecretManagerError as error:
            error.backend, error.key = self.backend, key
            raise
        return self._field(data, name, key, where)

    def _read_across_nodes(self, path: str, where: str) -> Mapping[str, object]:
        """Read ``path`` at the current node, and at the next ones while nodes give no answer
        (each node once)."""
        nodes = self._nodes
        if nodes is None:
            return self._read_with_login(path, where)
        for _ in range(len(nodes) - 1):
            address = nodes.current
            try:
                return self._read_with_login(path, where)
            except SecretBackendUnavailableError as error:
                if not _node_failed(error):
                    raise
                following = nodes.move_on(address)
                with self._lock:
                    if self._client is not None and self._client.url == address:
                        self._client.url = following
                get_logger().warning("Vault at %s: %s; trying %s", address, error, following)
        return self._read_with_login(path, where)

    def _read_with_login(self, path: str, where: str) -> Mapping[str, object]:
        """Read ``path``; after a refusal that a new token may cure, once more."""
        for attempt in range(2):
            client = self._ensure_client()
            token = client.token
            try:
                return self._read(client, path)
            except Exception as exc:
                failure = vault_failure(exc)
                if (
                    attempt == 0
                    and failure is not None
                    and failure.credentials
                    and self._replace_refused(token, said_invalid=is_invalid_token(exc))
                ):
                    continue
                raise translate_vault_error(exc, where) from exc
        raise SecretAccessDeniedError(f"{where}: refused after logging in again")

    def _read(self, client: Any, path: str) -> Mapping[str, object]:
        mount = self.config.kv_mount
        if self.config.kv_version == 2:
            response = client.secrets.kv.v2.read_secret_version(
                path=path, mount_point=mount, raise_on_deleted_version=True
            )
            data = _dig(response, "data", "data")
        else:
            response = client.secrets.kv.v1.read_secret(path=path, mount_point=mount)
            data = _dig(response, "data")
        if not isinstance(data, Mapping):
            raise SecretManagerError(f"unexpected Vault response for {mount}/{path}")
        return data

    def _field(self, data: Mapping[str, object], name: str, key: str, where: str) -> str:
        if name not in data:
            raise SecretNotFoundError(f"{where}: no field {name!r}", backend=self.backend, key=key)
        try:
            return field_text(data[name])
        except NestingTooDeepError as exc:
            raise SecretManagerError(f"{where}: {exc}", backend=self.backend, key=key) from None

    def _close(self) -> None:
        super()._close()
        client, self._client = self._client, None
        if client is not None and self._owns_client:
            session = getattr(getattr(client, "adapter", None), "session", None)
            if session is not None:
                session.close()

    def _describe(self) -> str:
        cfg = self.config
        return f"address={cfg.address!r}, kv_mount={cfg.kv_mount!r}, kv_version={cfg.kv_version}"


def _node_failed(error: SecretManagerError) -> bool:
    """Whether the Vault answer (or its absence) behind ``error`` says another node may do
    better."""
    cause = error.__cause__
    failure = vault_failure(cause) if cause is not None else None
    return failure is not None and fails_over(failure)


def _dig(response: object, *names: str) -> object:
    for name in names:
        if not isinstance(response, Mapping):
            return None
        response = response.get(name)
    return response


__all__ = ["VaultSecretManager"]
