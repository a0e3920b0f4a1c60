"""Typed, frozen configuration for each backend, resolved once at manager construction.

Each backend takes an optional ``config``: its dataclass below, or a plain mapping with the same
keys. Whatever the config leaves out (a mapping's missing keys, a dataclass's fields left at their
default) comes from the environment variables listed in ``_ENV`` of each class, read when the
manager is built, never at import. Unknown mapping keys and unparsable values raise
``SecretConfigurationError``, all problems reported together. Secret-bearing fields are kept out
of ``repr``.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from .errors import SecretConfigurationError

DEFAULT_TTL_SECONDS = 300.0
#: Fraction of the TTL at its end during which a read refreshes the value in the background.
DEFAULT_REFRESH_AHEAD = 0.2
DEFAULT_SECRETS_DIR = Path("/run/secrets")
#: Seconds one backend request may take (``SECRET_BACKEND_TIMEOUT``): short enough that a service
#: starting during an outage reaches its fallback quickly (the outage memory then spares every
#: other key the wait), long enough for a KV read over a slow link.
DEFAULT_BACKEND_TIMEOUT = 3.0
#: Attempts of one AWS request (``SECRET_BACKEND_MAX_ATTEMPTS``): one retry, after botocore's
#: standard back-off, rides out a throttled or dropped request.
DEFAULT_AWS_MAX_ATTEMPTS = 2
DEFAULT_K8S_TOKEN_FILE = Path("/var/run/secrets/kubernetes.io/serviceaccount/token")


def default_secrets_dir(environ: Mapping[str, str]) -> Path:
    """``SECRETS_DIR``, else ``$CREDENTIALS_DIRECTORY`` (systemd credentials), else /run/secrets."""
    for name in ("SECRETS_DIR", "CREDENTIALS_DIRECTORY"):
        value = environ.get(name)
        if value:
            return Path(value)
    return DEFAULT_SECRETS_DIR


def _seconds(value: object) -> float:
    """Seconds as a number or a duration string (``"30"``, ``"30s"``, ``"5m"``); finite, >= 0."""
    from ._core.durations import parse_duration  # only when a setting is given: import cost

    return parse_duration(value)


def resolve_ttl(ttl_seconds: float | None, environ: Mapping[str, str]) -> float:
    """The cache TTL: the explicit argument, else ``SECRET_CACHE_TTL``, else 300 s."""
    if ttl_seconds is not None:
        raw: object = ttl_seconds
        source = "ttl_seconds"
    elif environ.get("SECRET_CACHE_TTL"):
        raw = environ["SECRET_CACHE_TTL"]
        source = "SECRET_CACHE_TTL"
    else:
        return DEFAULT_TTL_SECONDS
    try:
        return _seconds(raw)
    except ValueError:
        raise SecretConfigurationError(
            f"{source} must be a number of seconds >= 0, got {raw!r}"
        ) from None


def resolve_refresh_ahead(refresh_ahead: float | None, environ: Mapping[str, str]) -> float:
    """The refresh-ahead fraction: the argument, else ``SECRET_CACHE_REFRESH_AHEAD``, else 0.2.

    Must be >= 0 and < 1; 0 disables refreshing ahead of expiry.
    """
    if refresh_ahead is not None:
        raw: object = refresh_ahead
        source = "refresh_ahead"
    elif environ.get("SECRET_CACHE_REFRESH_AHEAD"):
        raw = environ["SECRET_CACHE_REFRESH_AHEAD"]
        source = "SECRET_CACHE_REFRESH_AHEAD"
    else:
        return DEFAULT_REFRESH_AHEAD
    try:
        if isinstance(raw, bool):
            raise ValueError
        fraction = float(str(raw).strip())
    except ValueError:
        fraction = -1.0
    if not 0 <= fraction < 1:
        raise SecretConfigurationError(
            f"{source} must be a fraction of the TTL >= 0 and < 1 (0 disables), got {raw!r}"
        )
    return fraction


def _kv_version(value: object) -> int:
    number = int(str(value).strip().lstrip("v"))
    if number not in (1, 2):
        raise ValueError("expected 1 or 2")
    return number


def _positive_int(value: object) -> int:
    number = int(str(value))
    if number < 1:
        raise ValueError("expected an integer >= 1")
    return number


def _flag(value: object) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("", "0", "false", "no", "off"):
        return False
    raise ValueError("expected true or false")


def _optional_path(value: object) -> Path | None:
    return None if value in (None, "") else Path(str(value))


def _optional_str(value: object) -> str | None:
    return None if value in (None, "") else str(value)


def _proxies(value: object) -> dict[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise ValueError("expected a mapping of scheme to proxy URL")
    return {str(k): str(v) for k, v in value.items()}


_CONVERTERS: dict[str, Callable[[object], Any]] = {
    "str": str,
    "bool": _flag,
    "str | None": _optional_str,
    "Path": lambda v: Path(str(v)),
    "Path | None": _optional_path,
    "int": _positive_int,
    "float": _seconds,
    "dict[str, str] | None": _proxies,
}

_FIELD_CONVERTERS: dict[str, Callable[[object], Any]] = {"kv_version": _kv_version}

_SECRET_FIELDS = frozenset({"token", "secret_id", "role_id"})

C = TypeVar("C", bound="_BackendConfig")


class _BackendConfig:
    """Shared construction logic: environment, then the caller's config on top."""

    _ENV: ClassVar[Mapping[str, tuple[str, ...]]] = {}
    _ALIASES: ClassVar[Mapping[str, str]] = {}

    @classmethod
    def resolve(cls: type[C], config: object = None, environ: Mapping[str, str] | None = None) -> C:
        """Build the config from ``config`` (this class, a mapping or None) and ``environ``."""
        env = os.environ if environ is None else environ
        fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        values: dict[str, object] = {}
        for name, variables in cls._ENV.items():
            for variable in variables:
                if env.get(variable):
                    values[name] = env[variable]
                    break
        values.update(cls._derived_defaults(env, values))
        problems: list[str] = []
        if isinstance(config, cls):
            for name, spec in fields.items():
                value = getattr(config, name)
                if value != _default_of(spec):
                    values[name] = value
        elif isinstance(config, Mapping):
            for raw_name, value in config.items():
                name = cls._ALIASES.get(raw_name, raw_name)
                if name not in fields:
                    problems.append(f"{name}: unknown setting for {cls.__name__}")
                else:
                    values[name] = value
        elif config is not None:
            raise SecretConfigurationError(
                f"config must be a {cls.__name__}, a mapping or None, not {type(config).__name__}"
            )
        converted: dict[str, object] = {}
        for name, value in values.items():
            spec = fields[name]
            convert = _FIELD_CONVERTERS.get(name) or _CONVERTERS[str(spec.type)]
            try:
                converted[name] = convert(value)
            except (TypeError, ValueError) as exc:
                shown = "<redacted>" if name in _SECRET_FIELDS else repr(value)
                problems.append(f"{name}: invalid value {shown} ({exc})")
        if problems:
            raise SecretConfigurationError("; ".join(problems))
        return cls(**converted)

    @classmethod
    def _derived_defaults(
        cls, environ: Mapping[str, str], values: Mapping[str, object]
    ) -> dict[str, object]:
        return {}


def _default_of(spec: dataclasses.Field[Any]) -> object:
    if spec.default is not dataclasses.MISSING:
        return spec.default
    if spec.default_factory is not dataclasses.MISSING:
        return spec.default_factory()
    return dataclasses.MISSING


@dataclass(frozen=True)
class EnvConfig(_BackendConfig):
    """``env`` backend: an optional prefix for variable names (``SECRET_ENV_PREFIX``)."""

    prefix: str = ""

    _ENV: ClassVar[Mapping[str, tuple[str, ...]]] = {"prefix": ("SECRET_ENV_PREFIX",)}


@dataclass(frozen=True)
class FileConfig(_BackendConfig):
    """``file`` backend: the directory the agent writes (``SECRETS_DIR``)."""

    directory: Path = DEFAULT_SECRETS_DIR

    @classmethod
    def _derived_defaults(
        cls, environ: Mapping[str, str], values: Mapping[str, object]
    ) -> dict[str, object]:
        return {"directory": default_secrets_dir(environ)}


@dataclass(frozen=True)
class VaultConfig(_BackendConfig):
    """``vault`` backend: address, auth, KV mount and version, timeouts."""

    address: str = ""
    token: str | None = field(default=None, repr=False)
    token_file: Path | None = None
    role_id: str | None = field(default=None, repr=False)
    secret_id: str | None = field(default=None, repr=False)
    secret_id_file: Path | None = None
    secret_id_wrapped: bool = False
    approle_mount: str = "approle"
    k8s_role: str | None = None
    k8s_token_file: Path = DEFAULT_K8S_TOKEN_FILE
    k8s_mount: str = "kubernetes"
    namespace: str | None = None
    ca_cert: Path | None = None
    kv_mount: str = "secret"
    kv_version: int = 2
    timeout: float = DEFAULT_BACKEND_TIMEOUT
    proxies: dict[str, str] | None = None
    secrets_dir: Path = DEFAULT_SECRETS_DIR

    _ENV: ClassVar[Mapping[str, tuple[str, ...]]] = {
        "address": ("VAULT_ADDR",),
        "token": ("VAULT_TOKEN",),
        "token_file": ("VAULT_TOKEN_FILE",),
        "role_id": ("VAULT_ROLE_ID",),
        "secret_id": ("VAULT_SECRET_ID",),
        "secret_id_file": ("VAULT_SECRET_ID_FILE",),
        "secret_id_wrapped": ("VAULT_SECRET_ID_WRAPPED",),
        "k8s_role": ("VAULT_K8S_ROLE",),
        "k8s_token_file": ("VAULT_K8S_TOKEN_FILE",),
        "namespace": ("VAULT_NAMESPACE",),
        "ca_cert": ("VAULT_CACERT",),
        "kv_mount": ("VAULT_KV_MOUNT",),
        "kv_version": ("VAULT_KV_VERSION",),
        "timeout": ("SECRET_BACKEND_TIMEOUT", "VAULT_CLIENT_TIMEOUT"),
    }
    _ALIASES: ClassVar[Mapping[str, str]] = {"url": "address"}

    def __post_init__(self) -> None:
        if self.kv_version not in (1, 2):
            raise SecretConfigurationError("kv_version: expected 1 or 2")

    @classmethod
    def _derived_defaults(
        cls, environ: Mapping[str, str], values: Mapping[str, object]
    ) -> dict[str, object]:
        return {"secrets_dir": default_secrets_dir(environ)}


@dataclass(frozen=True)
class AwsConfig(_BackendConfig):
    """``aws`` backend: region/endpoint overrides (else boto3's chain), retries, timeouts."""

    region: str | None = None
    endpoint_url: str | None = None
    version_stage: str | None = None
    connect_timeout: float = 2.0
    read_timeout: float = DEFAULT_BACKEND_TIMEOUT
    max_attempts: int = DEFAULT_AWS_MAX_ATTEMPTS
    secrets_dir: Path = DEFAULT_SECRETS_DIR

    _ENV: ClassVar[Mapping[str, tuple[str, ...]]] = {
        "read_timeout": ("SECRET_BACKEND_TIMEOUT",),
        "max_attempts": ("SECRET_BACKEND_MAX_ATTEMPTS",),
    }

    @classmethod
    def _derived_defaults(
        cls, environ: Mapping[str, str], values: Mapping[str, object]
    ) -> dict[str, object]:
        return {"secrets_dir": default_secrets_dir(environ)}


__all__ = [
    "DEFAULT_AWS_MAX_ATTEMPTS",
    "DEFAULT_BACKEND_TIMEOUT",
    "DEFAULT_REFRESH_AHEAD",
    "DEFAULT_TTL_SECONDS",
    "AwsConfig",
    "EnvConfig",
    "FileConfig",
    "VaultConfig",
    "default_secrets_dir",
    "resolve_refresh_ahead",
    "resolve_ttl",
]
