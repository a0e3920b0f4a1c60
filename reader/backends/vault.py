"""``VaultSecretManager``: direct reads from HashiCorp Vault's KV engine through hvac.

``get_secret("alpaca/api_key_id")`` reads KV path ``alpaca`` (mount ``VAULT_KV_MOUNT``, KV
version ``VAULT_KV_VERSION``) and returns field ``api_key_id``; a one-segment key ``name`` reads
field ``value`` of path ``name``. hvac is imported on first use. One ``requests.Session`` is
reused, with ``trust_env`` off (no proxy/netrc lookups per request) unless proxies are
configured. Auth: token (``VAULT_TOKEN`` / ``VAULT_TOKEN_FILE``), AppRole, or Kubernetes; on a
401/403 answer to a read (a dead token looks like any refusal on OpenBao) an AppRole or
Kubernetes login is repeated once and the read retried, at most once every ``RELOGIN_INTERVAL``.

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

from .._core.credentials import CredentialFileError, read_credential_file
from .._core.values import NestingTooDeepError, field_text
from ..config import VaultConfig
from ..errors import (
    SecretAccessDeniedError,
    SecretConfigurationError,
    SecretManagerError,
    SecretNotFoundError,
)
from ..manager import SecretManager
from .vault_errors import record_answer, translate_vault_error, vault_failure

# A 403 on a read may mean a dead token (OpenBao says only "permission denied"), so the manager
# logs in again and retries once; for a token that is fine but lacks a policy, that re-login is
# wasted, so it happens at most once in this many seconds.
RELOGIN_INTERVAL = 30.0

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
        environ: Mapping[str, str] | None = None,
    ) -> None:
        env = os.environ if environ is None else environ
        self.config = VaultConfig.resolve(config, env)
        if not self.config.address and client is None:
            raise SecretConfigurationError(
                "no Vault address: set VAULT_ADDR or the config's address", backend=self.backend
            )
        super().__init__(
            ttl_seconds=ttl_seconds, timer=timer, fallback_dir=self.config.secrets_dir, environ=env
        )
        self._auth_method = self._choose_auth(client)
        self._trust_env = self.config.proxies is None and any(
            env.get(name) or env.get(name.upper()) for name in _PROXY_VARIABLES
        )
        self._client: Any = client
        self._owns_client = client is None
        self._authenticated = client is not None and self._auth_method == "client"
        self._lock = threading.Lock()
        self._timer = timer
        self._last_relogin: float | None = None

    def _choose_auth(self, client: Any) -> str:
        cfg = self.config
        if client is not None and getattr(client, "token", None):
            return "client"
        if cfg.token:
            return "token"
        if cfg.token_file:
            return "token_file"
        if cfg.role_id:
            if not (cfg.secret_id or cfg.secret_id_file):
                raise SecretConfigurationError(
                    "Vault AppRole auth needs VAULT_SECRET_ID or VAULT_SECRET_ID_FILE",
                    backend=self.backend,
                )
            return "approle"
        if cfg.k8s_role:
            return "kubernetes"
        if client is not None:
            return "client"
        raise SecretConfigurationError(
            "no Vault credentials: set VAULT_TOKEN, VAULT_TOKEN_FILE, VAULT_ROLE_ID with "
            "VAULT_SECRET_ID[_FILE], or VAULT_K8S_ROLE",
            backend=self.backend,
        )

    # -- client and auth -------------------------------------------------------------------

    def _ensure_client(self) -> Any:
        client = self._client
        if client is not None and self._authenticated:
            return client
        with self._lock:
            if self._client is None:
                self._client = self._build_client()
            if not self._authenticated:
                self._login(self._client)
                self._authenticated = True
            return self._client

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
            url=cfg.address,
            verify=verify,
            timeout=cfg.timeout,
            proxies=cfg.proxies,
            session=session,
            namespace=cfg.namespace,
        )

    def _read_credential(self, path: os.PathLike[str] | None, what: str) -> str:
        if path is None:
            raise SecretConfigurationError(f"no {what} configured", backend=self.backend)
        try:
            return read_credential_file(path, f"Vault {what}")
        except CredentialFileError as exc:
            raise SecretConfigurationError(str(exc), backend=self.backend) from None

    def _login(self, client: Any) -> None:
        cfg, method = self.config, self._auth_method
        if method == "client":
            return
        if method == "token":
            client.token = cfg.token
            return
        if method == "token_file":
            client.token = self._read_credential(cfg.token_file, "token")
            return
        try:
            if method == "approle":
                secret_id = cfg.secret_id or self._read_credential(cfg.secret_id_file, "secret_id")
                client.auth.approle.login(
                    role_id=cfg.role_id, secret_id=secret_id, mount_point=cfg.approle_mount
                )
            else:
                jwt = self._read_credential(cfg.k8s_token_file, "Kubernetes service-account token")
                client.auth.kubernetes.login(role=cfg.k8s_role, jwt=jwt, mount_point=cfg.k8s_mount)
        except SecretManagerError:
            raise
        except Exception as exc:
            error = translate_vault_error(exc, f"Vault {method} login at {cfg.address}", login=True)
            raise error from exc

    def _relogin(self, failed_token: object) -> bool:
        """Log in again after a refusal that may mean a dead token; False if this auth method
        cannot, or a re-login happened less than ``RELOGIN_INTERVAL`` seconds ago."""
        if self._auth_method in ("client", "token"):
            return False
        with self._lock:
            if self._client.token == failed_token:
                now = self._timer()
                if self._last_relogin is not None and now - self._last_relogin < RELOGIN_INTERVAL:
                    return False
                self._last_relogin = now
                self._authenticated = False
                self._login(self._client)
                self._authenticated = True
        return True

    # -- reads -----------------------------------------------------------------------------

    def _fetch(self, key: str, secret_path: str, field: str) -> str:
        path = secret_path or key
        name = field if secret_path else "value"
        where = f"secret {key!r} (Vault {self.config.kv_mount}/{path} at {self.config.address})"
        for attempt in range(2):
            client = self._ensure_client()
            token = client.token
            try:
                data = self._read(client, path)
            except Exception as exc:
                failure = vault_failure(exc)
                if (
                    attempt == 0
                    and failure is not None
                    and failure.credentials
                    and self._relogin(token)
                ):
                    continue
                error = translate_vault_error(exc, where)
                error.backend, error.key = self.backend, key
                raise error from exc
            return self._field(data, name, key, where)
        raise SecretAccessDeniedError(
            f"{where}: refused after logging in again", backend=self.backend, key=key
        )

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


def _dig(response: object, *names: str) -> object:
    for name in names:
        if not isinstance(response, Mapping):
            return None
        response = response.get(name)
    return response


__all__ = ["VaultSecretManager"]
