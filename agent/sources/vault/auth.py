"""Vault login (token, AppRole, Kubernetes) and the token's lifetime, for the agent.

The logic is the reader's (``libs.secrets._core.vault_login``): credential files read at each
login, renewal at two thirds of the TTL, a fresh login for a token that cannot be renewed or
that the server may have dropped. This module builds the login strategy from ``[backend.auth]``
and turns what a login raises into the agent's ``SourceError`` family.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from libs.secrets._core.credentials import CredentialFileError
from libs.secrets._core.vault_login import (
    AppRoleLogin,
    KubernetesLogin,
    LoginStrategy,
    StaticToken,
    TokenKeeper,
)
from secrets_agent.sources.result import AuthenticationError, SourceError
from secrets_agent.sources.vault.errors import map_vault_error

if TYPE_CHECKING:
    from secrets_agent.config.load import AuthConfig

log = logging.getLogger(__name__)


def login_strategy(auth: AuthConfig) -> LoginStrategy:
    """The login strategy for ``[backend.auth]``; raises AuthenticationError for an unknown
    method or a missing role."""
    if auth.method == "token":
        return StaticToken(token=auth.token, token_file=auth.token_file)
    if auth.method == "approle":
        return AppRoleLogin(
            role_id=auth.role_id,
            role_id_file=auth.role_id_file,
            secret_id=auth.secret_id,
            secret_id_file=auth.secret_id_file,
            secret_id_wrapped=auth.secret_id_wrapped,
            mount=auth.mount or "approle",
        )
    if auth.method == "kubernetes":
        if not auth.role:
            raise AuthenticationError("no Kubernetes role configured")
        return KubernetesLogin(
            role=auth.role, jwt_file=auth.jwt_file, mount=auth.mount or "kubernetes"
        )
    raise AuthenticationError(f"unknown Vault auth method {auth.method!r}")


class VaultAuth:
    """Logs an hvac client (or a ``client.LazyClient`` standing in for one) in and keeps its
    token alive. Thread-safe."""

    def __init__(
        self,
        client: Any,
        auth: AuthConfig,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._method = auth.method
        self._strategy_error: AuthenticationError | None = None
        try:
            strategy = login_strategy(auth)
        except AuthenticationError as exc:
            self._strategy_error = exc
            strategy = StaticToken(token_file=None)
        self.keeper = TokenKeeper(client, strategy, clock=clock)

    @property
    def token(self) -> str | None:
        """The current token (never logged)."""
        return self.keeper.token

    def expired(self) -> bool:
        """True when the current token's TTL has run out."""
        return self.keeper.expired()

    def seconds_until_due(self) -> float | None:
        """Seconds until the token needs renewing, or None when it never does."""
        return self.keeper.seconds_until_due()

    def ensure(self) -> None:
        """Log in if there is no token yet, or renew / log in again if one is due."""
        if not self.keeper.due():
            return
        with self._translated("renewing the token"):
            self.keeper.ensure()

    def login(self) -> None:
        """Obtain a token with the configured method. Raises a ``SourceError``."""
        with self._translated(f"{self._method} login", login=True):
            self.keeper.login()
        log.info("logged in to Vault with %s auth", self._method)

    def refresh_token(self) -> None:
        """Renew the token if it is renewable, else (or if renewal fails) log in again."""
        with self._translated("renewing the token"):
            self.keeper.refresh()

    def replace_refused(self, token: str | None, *, said_invalid: bool = False) -> bool:
        """After a read with ``token`` was refused: True when a new token is in place and the
        read is worth one retry (see ``TokenKeeper.replace_refused``)."""
        with self._translated(f"{self._method} login", login=True):
            replaced = self.keeper.replace_refused(token, said_invalid=said_invalid)
        if replaced:
            log.info("Vault refused the token; logged in again")
        return replaced

    @contextmanager
    def _translated(self, action: str, *, login: bool = False) -> Iterator[None]:
        if self._strategy_error is not None:
            raise self._strategy_error
        try:
            yield
        except SourceError:
            raise
        except CredentialFileError as exc:
            raise AuthenticationError(str(exc)) from None
        except Exception as exc:
            # A token refused by its own lookup is a login failure too.
            failure_is_login = login or self.keeper.token is None
            url = getattr(self._client, "url", None)
            error = map_vault_error(
                exc,
                path=None,
                action=action if not failure_is_login else f"{self._method} login",
                address=url if isinstance(url, str) else None,
                login=failure_is_login,
            )
            raise error from exc
