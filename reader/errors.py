"""The reader's exceptions: one base class, a few subclasses with builtin bases.

Every error carries the backend name and the key it was about (``backend``, ``key``) as
attributes. Messages name keys, paths and backends, never a secret value; vendor exceptions are
chained with ``from`` so the original cause stays visible in tracebacks.
"""

from __future__ import annotations


class SecretManagerError(Exception):
    """Base class of every error raised by ``libs.secrets``."""

    def __init__(self, message: str, *, backend: str | None = None, key: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.backend = backend
        self.key = key

    def __str__(self) -> str:
        return self.message


class SecretNotFoundError(SecretManagerError, KeyError):
    """The backend says authoritatively that the secret or field does not exist.

    Also a ``KeyError`` so ``except KeyError`` works; ``str()`` is the plain message, not the
    quoted form ``KeyError`` would give.
    """

    def __str__(self) -> str:
        return self.message


class SecretAccessDeniedError(SecretManagerError):
    """The backend refused access (HTTP 403, AccessDeniedException, failed login, refused path)."""


class SecretBackendUnavailableError(SecretManagerError):
    """The backend could not be reached or is not serving (refused, timeout, 5xx, sealed, 429)."""


class SecretConfigurationError(SecretManagerError, ValueError):
    """The manager's configuration is unusable (unknown backend, env backend in production, ...)."""


class InvalidSecretKeyError(SecretManagerError, ValueError):
    """The key is not a valid secret key; raised before any I/O."""


# The error for each kind of failure (``_core.failures.FailureKind``, by its value).
ERROR_FOR_KIND: dict[str, type[SecretManagerError]] = {
    "not found": SecretNotFoundError,
    "denied": SecretAccessDeniedError,
    "unavailable": SecretBackendUnavailableError,
    "invalid": SecretConfigurationError,
}


__all__ = [
    "ERROR_FOR_KIND",
    "InvalidSecretKeyError",
    "SecretAccessDeniedError",
    "SecretBackendUnavailableError",
    "SecretConfigurationError",
    "SecretManagerError",
    "SecretNotFoundError",
]
