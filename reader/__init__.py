"""libs.secrets: read secrets by key, fast, from tmpfs files, Vault or AWS Secrets Manager.

>>> from libs.secrets import create_secret_manager
>>> manager = create_secret_manager()                # backend from SECRET_BACKEND (default env)
>>> value = manager.get_secret("alpaca/api_key_id")  # doctest: +SKIP

Importing this package loads nothing but this file: each public name is imported from its
module on first access (module ``__getattr__``), and a backend's module, with its SDK (hvac,
boto3, watchdog), only when that backend is used. ``from libs.secrets import X`` works as usual.
"""

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .backends.aws import AWSSecretsManager
    from .backends.env import EnvSecretManager
    from .backends.file import FileSecretManager
    from .backends.vault import VaultSecretManager
    from .cache import SecretCache
    from .errors import (
        InvalidSecretKeyError,
        SecretAccessDeniedError,
        SecretBackendUnavailableError,
        SecretConfigurationError,
        SecretManagerError,
        SecretNotFoundError,
    )
    from .factory import create_secret_manager
    from .manager import SecretManager

__all__ = [
    "AWSSecretsManager",
    "EnvSecretManager",
    "FileSecretManager",
    "InvalidSecretKeyError",
    "SecretAccessDeniedError",
    "SecretBackendUnavailableError",
    "SecretCache",
    "SecretConfigurationError",
    "SecretManager",
    "SecretManagerError",
    "SecretNotFoundError",
    "VaultSecretManager",
    "create_secret_manager",
]

# public name -> the submodule (relative to this package) that defines it
_ORIGINS = {
    "AWSSecretsManager": "backends.aws",
    "EnvSecretManager": "backends.env",
    "FileSecretManager": "backends.file",
    "VaultSecretManager": "backends.vault",
    "SecretCache": "cache",
    "InvalidSecretKeyError": "errors",
    "SecretAccessDeniedError": "errors",
    "SecretBackendUnavailableError": "errors",
    "SecretConfigurationError": "errors",
    "SecretManagerError": "errors",
    "SecretNotFoundError": "errors",
    "create_secret_manager": "factory",
    "SecretManager": "manager",
}


def __getattr__(name: str) -> object:
    """Import a public name on first access and keep it as a module attribute."""
    origin = _ORIGINS.get(name)
    if origin is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = __import__(f"{__name__}.{origin}", fromlist=[name])
    value = getattr(module, name)
    globals()[name] = value  # later accesses are plain attribute lookups
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
