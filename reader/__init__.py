"""libs.secrets: read secrets by key, fast, from tmpfs files, Vault or AWS Secrets Manager.

>>> from libs.secrets import create_secret_manager
>>> manager = create_secret_manager()                # backend from SECRET_BACKEND (default env)
>>> value = manager.get_secret("alpaca/api_key_id")  # doctest: +SKIP

Importing this package imports no optional SDK (hvac, boto3, watchdog are loaded on first use).
"""

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
