"""``create_secret_manager()``: the process-wide manager chosen by ``SECRET_BACKEND``.

The variable is read when the factory is first called (never at import) and looked up in an
explicit name -> class map; an unknown name raises ``SecretConfigurationError`` listing the
valid ones. The manager is created once per distinct set of keyword overrides and then returned
on every later call (thread-safe: racing threads get the same object).
``create_secret_manager.cache_clear()`` forgets the instances.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping

from .errors import SecretConfigurationError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from .manager import SecretManager

#: backend name -> manager class, or ``"module:Class"`` (relative to this package) until first
#: use, so that importing the factory imports no backend.
BACKENDS: dict[str, Callable[..., SecretManager] | str] = {
    "env": "backends.env:EnvSecretManager",
    "file": "backends.file:FileSecretManager",
    "vault": "backends.vault:VaultSecretManager",
    "aws": "backends.aws:AWSSecretsManager",
}
DEFAULT_BACKEND = "env"


def _backend_class(name: str) -> Callable[..., SecretManager] | None:
    """The manager class registered as ``name`` (importing its module now), or None."""
    entry = BACKENDS.get(name)
    if isinstance(entry, str):
        module_name, _, attribute = entry.partition(":")
        module = __import__(f"{__package__}.{module_name}", fromlist=[attribute])
        entry = BACKENDS[name] = getattr(module, attribute)
    return entry


def _freeze(value: object) -> object:
    """A hashable stand-in for an override value (objects by identity)."""
    if isinstance(value, Mapping):
        return tuple(sorted((str(k), _freeze(v)) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return tuple(_freeze(item) for item in value)
    try:
        hash(value)
    except TypeError:
        return ("id", id(value))
    return value


class SecretManagerFactory:
    """Callable that builds and caches managers; the instance is ``create_secret_manager``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._instances: dict[object, SecretManager] = {}

    def __call__(self, backend: str | None = None, **overrides: Any) -> SecretManager:
        """Return the process-wide manager for ``SECRET_BACKEND`` (or ``backend``).

        ``overrides`` (``config=``, ``ttl_seconds=``, ``client=``, ...) go to the backend's
        constructor. Raises ``SecretConfigurationError`` for an unknown backend or a bad config.
        """
        cache_key = _freeze({"backend": backend, **overrides})
        manager = self._instances.get(cache_key)
        if manager is not None:
            return manager
        with self._lock:
            manager = self._instances.get(cache_key)
            if manager is None:
                manager = self._create(backend, overrides)
                self._instances[cache_key] = manager
        return manager

    def _create(self, backend: str | None, overrides: Mapping[str, Any]) -> SecretManager:
        if backend is None:
            source = "SECRET_BACKEND"
            name = os.environ.get("SECRET_BACKEND", "").strip() or DEFAULT_BACKEND
        else:
            source = "backend"
            name = backend.strip()
        manager_class = _backend_class(name.lower())
        if manager_class is None:
            valid = ", ".join(sorted(BACKENDS))
            raise SecretConfigurationError(
                f"{source}={name!r} is not a secret backend; valid values: {valid}"
            )
        return manager_class(**overrides)

    def cache_clear(self, *, close: bool = False) -> None:
        """Forget the cached managers (and ``close()`` them if ``close`` is true)."""
        with self._lock:
            managers = list(self._instances.values())
            self._instances.clear()
        if close:
            for manager in managers:
                manager.close()


create_secret_manager = SecretManagerFactory()

__all__ = ["BACKENDS", "SecretManagerFactory", "create_secret_manager"]
