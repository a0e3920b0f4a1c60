"""``EnvSecretManager``: secrets from environment variables, for development only.

``get_secret("alpaca/api_key_id")`` reads ``ALPACA_API_KEY_ID``: the key upper-cased, every
character outside ``[A-Za-z0-9]`` replaced by ``_``, prefixed with ``SECRET_ENV_PREFIX`` (as
given) when set. Constructing it when ``ENVIRONMENT`` or ``APP_ENV`` says ``prod`` or
``production`` (any case) raises ``SecretConfigurationError`` before anything is read.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Mapping

from ..config import EnvConfig
from ..errors import SecretConfigurationError, SecretNotFoundError
from ..manager import SecretManager

PRODUCTION_NAMES = frozenset({"prod", "production"})
_NOT_ALNUM = re.compile(r"[^A-Za-z0-9]")


def check_not_production(environ: Mapping[str, str]) -> None:
    """Raise ``SecretConfigurationError`` if ``ENVIRONMENT``/``APP_ENV`` names production."""
    for variable in ("ENVIRONMENT", "APP_ENV"):
        value = environ.get(variable, "")
        if value.strip().lower() in PRODUCTION_NAMES:
            raise SecretConfigurationError(
                f"the env secret backend is for development only and is refused when "
                f"{variable}={value.strip()!r}; set SECRET_BACKEND to file, vault or aws",
                backend="env",
            )


def variable_name(key: str, prefix: str = "") -> str:
    """The variable holding ``key``: ``alpaca/api_key_id`` -> ``ALPACA_API_KEY_ID``."""
    return prefix + _NOT_ALNUM.sub("_", key).upper()


class EnvSecretManager(SecretManager):
    """Reads secrets from environment variables (development only; see the module docstring)."""

    backend = "env"

    def __init__(
        self,
        config: EnvConfig | Mapping[str, object] | None = None,
        *,
        ttl_seconds: float | None = None,
        timer: Callable[[], float] = time.monotonic,
        refresh_ahead: float | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        env = os.environ if environ is None else environ
        check_not_production(env)
        self.config = EnvConfig.resolve(config, env)
        self._environ = env
        super().__init__(
            ttl_seconds=ttl_seconds, timer=timer, environ=env, refresh_ahead=refresh_ahead
        )

    def _fetch(self, key: str, secret_path: str, field: str) -> str:
        name = variable_name(key, self.config.prefix)
        value = self._environ.get(name)
        if value is None:
            raise SecretNotFoundError(
                f"secret {key!r}: environment variable {name} is not set",
                backend=self.backend,
                key=key,
            )
        return value

    def _describe(self) -> str:
        return f"prefix={self.config.prefix!r}"


__all__ = ["EnvSecretManager", "check_not_production", "variable_name"]
