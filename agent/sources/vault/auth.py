"""Vault login (token, AppRole, Kubernetes) and the token's lifetime.

Credential files are read at login time, so a rotated ``secret_id`` or token file is picked up on
the next login. The token is renewed (``renew-self``) at two thirds of its TTL; a token that is
not renewable, or whose renewal fails, is replaced by a fresh login shortly before it expires.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import hvac
import hvac.exceptions as hvac_exc
from libs.secrets._core.credentials import CredentialFileError, read_credential_file
from secrets_agent.sources.result import AuthenticationError, SourceError
from secrets_agent.sources.vault.errors import map_vault_error

if TYPE_CHECKING:
    from secrets_agent.config.load import AuthConfig

log = logging.getLogger(__name__)

RENEW_FRACTION = 2 / 3  # renew-self at this fraction of the TTL
RELOGIN_FRACTION = 0.9  # a token that cannot be renewed is replaced at this fraction
MIN_LEAD = 1.0  # never schedule renewal work closer together than this


def _read_credential(path: Path, what: str) -> str:
    try:
        return read_credential_file(path, what)
    except CredentialFileError as exc:
        raise AuthenticationError(str(exc)) from None


class VaultAuth:
    """Logs an hvac client in and keeps its token alive. Thread-safe."""

    def __init__(
        self,
        client: hvac.Client,
        auth: AuthConfig,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._auth = auth
        self._clock = clock
        self._lock = threading.RLock()
        self._token: str | None = None
        self._expires_at: float | None = None  # None: never expires (or unknown)
        self._renew_at: float | None = None
        self._renewable = False

    @property
    def token(self) -> str | None:
        """The current token (never logged)."""
        return self._token

    def expired(self) -> bool:
        """True when the current token's TTL has run out."""
        return self._expires_at is not None and self._clock() >= self._expires_at

    def ensure(self) -> None:
        """Log in if there is no token yet, or renew / log in again if one is due."""
        with self._lock:
            if self._token is None:
                self.login()
            elif self._renew_at is not None and self._clock() >= self._renew_at:
                self.refresh_token()

    def relogin(self, stale_token: str | None) -> None:
        """Log in again unless another thread already replaced ``stale_token``."""
        with self._lock:
            if self._token is None or self._token == stale_token:
                self.login()

    def seconds_until_due(self) -> float | None:
        """Seconds until the token needs renewing, or None when it never does."""
        with self._lock:
            if self._renew_at is None:
                return None
            return max(MIN_LEAD, self._renew_at - self._clock())

    def login(self) -> None:
        """Obtain a token with the configured method. Raises a ``SourceError``."""
        method = self._auth.method
        with self._lock:
            try:
                if method == "token":
                    self._login_token()
                elif method == "approle":
                    self._login_approle()
                elif method == "kubernetes":
                    self._login_kubernetes()
                else:
                    raise AuthenticationError(f"unknown Vault auth method {method!r}")
            except SourceError:
                raise
            except Exception as exc:
                raise map_vault_error(
                    exc, path=None, action=f"{method} login", address=self._address(), login=True
                ) from exc
        log.info("logged in to Vault with %s auth", method)

    def refresh_token(self) -> None:
        """Renew the token if it is renewable, else (or if renewal fails) log in again."""
        with self._lock:
            if self._renewable:
                try:
                    response = self._client.auth.token.renew_self()
                    self._set_lease(response.get("auth") or {})
                    log.debug("renewed the Vault token")
                    return
                except (hvac_exc.Forbidden, hvac_exc.InvalidRequest) as exc:
                    log.info(
                        "Vault token renewal refused (%s); logging in again", type(exc).__name__
                    )
                except Exception as exc:
                    err = map_vault_error(
                        exc, path=None, action="renewing the token", address=self._address()
                    )
                    if not self.expired():
                        # Try again soon; the token is still good for a while.
                        self._renew_at = self._clock() + MIN_LEAD * 5
                        raise err from exc
            self.login()

    def _address(self) -> str | None:
        url = getattr(self._client, "url", None)
        return url if isinstance(url, str) else None

    # -- methods -----------------------------------------------------------------------

    def _login_token(self) -> None:
        auth = self._auth
        token = auth.token
        if token is None and auth.token_file is not None:
            token = _read_credential(auth.token_file, "token")
        if not token:
            raise AuthenticationError("no Vault token configured")
        self._client.token = token
        self._token = token
        try:
            data = self._client.auth.token.lookup_self().get("data") or {}
        except hvac_exc.Forbidden as exc:
            self._token = None
            raise AuthenticationError("Vault rejected the token (403)") from exc
        except BaseException:
            self._token = None  # not logged in: the next call tries again (and learns the TTL)
            raise
        ttl = data.get("ttl")
        renewable = bool(data.get("renewable", False))
        self._set_lease({"lease_duration": ttl, "renewable": renewable}, from_login=True)

    def _login_approle(self) -> None:
        auth = self._auth
        role_id = auth.role_id
        if role_id is None and auth.role_id_file is not None:
            role_id = _read_credential(auth.role_id_file, "role_id")
        if not role_id:
            raise AuthenticationError("no AppRole role_id configured")
        secret_id = auth.secret_id
        if secret_id is None and auth.secret_id_file is not None:
            secret_id = _read_credential(auth.secret_id_file, "secret_id")
        response = self._client.auth.approle.login(
            role_id=role_id, secret_id=secret_id, mount_point=auth.mount or "approle"
        )
        self._accept_login(response)

    def _login_kubernetes(self) -> None:
        auth = self._auth
        if not auth.role:
            raise AuthenticationError("no Kubernetes role configured")
        jwt = _read_credential(auth.jwt_file, "service-account token")
        response = self._client.auth.kubernetes.login(
            role=auth.role, jwt=jwt, mount_point=auth.mount or "kubernetes"
        )
        self._accept_login(response)

    def _accept_login(self, response: Any) -> None:
        block = response.get("auth") if isinstance(response, dict) else None
        token = block.get("client_token") if isinstance(block, dict) else None
        if not isinstance(token, str) or not token:
            raise AuthenticationError("Vault login answered without a client token")
        self._client.token = token
        self._token = token
        self._set_lease(block, from_login=True)  # type: ignore[arg-type]

    def _set_lease(self, block: dict[str, Any], *, from_login: bool = False) -> None:
        ttl = block.get("lease_duration")
        if "renewable" in block or from_login:
            self._renewable = bool(block.get("renewable", False))
        now = self._clock()
        if not isinstance(ttl, int | float) or isinstance(ttl, bool) or ttl <= 0:
            self._expires_at = self._renew_at = None  # a root or non-expiring token
            return
        self._expires_at = now + ttl
        fraction = RENEW_FRACTION if self._renewable else RELOGIN_FRACTION
        self._renew_at = now + max(min(MIN_LEAD, ttl / 2), ttl * fraction)
