"""The Vault backend's login: ``_core.vault_login`` strategies built from ``VaultConfig``.

Token (``VAULT_TOKEN`` / ``VAULT_TOKEN_FILE``), AppRole (``VAULT_ROLE_ID`` with
``VAULT_SECRET_ID[_FILE]``, a response-wrapping token there when ``VAULT_SECRET_ID_WRAPPED``
is true, or no secret_id for a role with ``bind_secret_id=false``) or Kubernetes
(``VAULT_K8S_ROLE``), in that order of preference; an injected client that already holds a
token is used as it is. The token's lifetime is kept by ``_core.vault_login.TokenKeeper`` (the
agent's too): renewed at two thirds of its TTL, replaced by a new login when it cannot be
renewed or when the server refuses it. ``translated`` turns what a login raises into the
reader's errors.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from .._core.credentials import CredentialFileError
from .._core.vault_login import AppRoleLogin, KubernetesLogin, LoginStrategy, StaticToken
from ..config import VaultConfig
from ..errors import SecretConfigurationError, SecretManagerError
from .vault_errors import translate_vault_error


def login_strategy(config: VaultConfig, client: Any) -> LoginStrategy | None:
    """How to log in with ``config``; None when the injected ``client`` brings its own token.

    Raises ``SecretConfigurationError`` when no usable credentials are configured.
    """
    if client is not None and getattr(client, "token", None):
        return None
    if config.token or config.token_file:
        return StaticToken(token=config.token, token_file=config.token_file)
    if config.role_id:
        has_secret_id = bool(config.secret_id or config.secret_id_file)
        if config.secret_id_wrapped and not has_secret_id:
            raise SecretConfigurationError(
                "VAULT_SECRET_ID_WRAPPED needs the wrapping token in VAULT_SECRET_ID or "
                "VAULT_SECRET_ID_FILE",
                backend="vault",
            )
        # Without a secret_id only the role_id is sent (a role with bind_secret_id=false).
        return AppRoleLogin(
            role_id=config.role_id,
            secret_id=config.secret_id,
            secret_id_file=config.secret_id_file,
            secret_id_wrapped=config.secret_id_wrapped,
            mount=config.approle_mount,
        )
    if config.k8s_role:
        return KubernetesLogin(
            role=config.k8s_role, jwt_file=config.k8s_token_file, mount=config.k8s_mount
        )
    if client is not None:
        return None
    raise SecretConfigurationError(
        "no Vault credentials: set VAULT_TOKEN, VAULT_TOKEN_FILE, VAULT_ROLE_ID (with "
        "VAULT_SECRET_ID[_FILE] unless the role needs no secret_id), or VAULT_K8S_ROLE",
        backend="vault",
    )


@contextmanager
def translated(where: str) -> Iterator[None]:
    """Raise what a login (or renewal) raised inside as the reader's error about ``where``."""
    try:
        yield
    except SecretManagerError:
        raise
    except CredentialFileError as exc:
        raise SecretConfigurationError(str(exc), backend="vault") from None
    except Exception as exc:
        raise translate_vault_error(exc, where, login=True) from exc


__all__ = ["login_strategy", "translated"]
