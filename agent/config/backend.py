"""Parsing of the ``[backend]`` table (Vault or AWS) and Vault's ``auth`` table."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from libs.secrets._core.vault_addresses import split_addresses, unique_addresses
from secrets_agent.config.schema import (
    AUTH_METHODS,
    BACKEND_TYPES,
    DEFAULT_JWT_FILE,
    AuthConfig,
    AwsBackendConfig,
    VaultBackendConfig,
)
from secrets_agent.config.tables import Problems, Table

_METHOD_KEYS = {
    "token": {"token", "token_file"},
    "approle": {
        "role_id",
        "role_id_file",
        "secret_id",
        "secret_id_file",
        "secret_id_wrapped",
        "role_id_only",
        "mount",
    },
    "kubernetes": {"role", "jwt_file", "mount"},
}
_ALL_AUTH_KEYS = set().union(*_METHOD_KEYS.values())
_SCHEMES = ("http://", "https://")


class _Context:
    """Resolves relative credential paths: ``$CREDENTIALS_DIRECTORY``, else the config dir."""

    def __init__(self, environ: Mapping[str, str], base_dir: Path | None) -> None:
        self.environ = environ
        cred = environ.get("CREDENTIALS_DIRECTORY")
        self.cred_dir = Path(cred) if cred else None
        self.base_dir = base_dir

    def file(self, table: Table, name: str, *, credential: bool = True) -> Path | None:
        """Path from key ``name``; relative ones resolve against ``$CREDENTIALS_DIRECTORY``
        (credentials only) or else the config file's directory."""
        text = table.string(name)
        if text is None:
            return None
        path = Path(text)
        if path.is_absolute():
            return path
        if credential and self.cred_dir is not None:
            return self.cred_dir / path
        if self.base_dir is not None:
            return self.base_dir / path
        where = "$CREDENTIALS_DIRECTORY or a config file" if credential else "a config file"
        table.problem(name, f"relative path needs {where}")
        return None

    def credential(self, name: str) -> Path | None:
        """``$CREDENTIALS_DIRECTORY/<name>`` if that directory is set, else ``None``."""
        return self.cred_dir / name if self.cred_dir is not None else None


def _one_of(
    table: Table, value_key: str, file_key: str, ctx: _Context
) -> tuple[str | None, Path | None]:
    value = table.string(value_key)
    path = ctx.file(table, file_key)
    if value is not None and path is not None:
        table.problem(value_key, f"set only one of {value_key} and {file_key}")
    return value, path


def parse_auth(
    data: Mapping[str, object], prefix: str, problems: Problems, ctx: _Context
) -> AuthConfig | None:
    table = Table(data, prefix, problems)
    method = table.choice("method", AUTH_METHODS, None)
    if method is None:
        for key in _ALL_AUTH_KEYS:
            table.raw(key)
        table.finish()
        return None
    for key in sorted(_ALL_AUTH_KEYS - _METHOD_KEYS[method]):
        if table.has(key):
            table.problem(key, f"not used by auth method {method!r}")
    auth: AuthConfig | None = None
    if method == "token":
        token, token_file = _one_of(table, "token", "token_file", ctx)
        if token is None and token_file is None:
            fallback = ctx.credential("vault_token")
            if fallback is not None and (fallback.exists() or "VAULT_TOKEN" not in ctx.environ):
                token_file = fallback
            elif ctx.environ.get("VAULT_TOKEN"):
                token = ctx.environ["VAULT_TOKEN"]
            else:
                table.problem(
                    "token",
                    "token auth needs token or token_file"
                    " (or $CREDENTIALS_DIRECTORY/vault_token, or $VAULT_TOKEN)",
                )
        auth = AuthConfig(method, token=token, token_file=token_file)
    elif method == "approle":
        role_id, role_id_file = _one_of(table, "role_id", "role_id_file", ctx)
        secret_id, secret_id_file = _one_of(table, "secret_id", "secret_id_file", ctx)
        if role_id is None and role_id_file is None:
            fallback = ctx.credential("role_id")
            if fallback is not None and fallback.exists():
                role_id_file = fallback
            else:
                table.problem("role_id", "approle auth needs role_id or role_id_file")
        wrapped = table.boolean("secret_id_wrapped", False)
        role_id_only = table.boolean("role_id_only", False)
        if role_id_only:
            for key in ("secret_id", "secret_id_file", "secret_id_wrapped"):
                if table.has(key):
                    table.problem(key, "not used with role_id_only = true")
            secret_id = secret_id_file = None
        elif secret_id is None and secret_id_file is None:
            secret_id_file = ctx.credential("secret_id")
            if secret_id_file is None:
                table.problem(
                    "secret_id",
                    "approle auth needs secret_id or secret_id_file"
                    " (or $CREDENTIALS_DIRECTORY/secret_id), or role_id_only = true",
                )
        auth = AuthConfig(
            method,
            role_id=role_id,
            role_id_file=role_id_file,
            secret_id=secret_id,
            secret_id_file=secret_id_file,
            secret_id_wrapped=wrapped and not role_id_only,
            role_id_only=role_id_only,
            mount=_mount(table),
        )
    else:
        role = table.string("role", required=True)
        jwt_file = ctx.file(table, "jwt_file") or DEFAULT_JWT_FILE
        auth = AuthConfig(method, role=role, jwt_file=jwt_file, mount=_mount(table))
    table.finish()
    return auth


def _mount(table: Table, name: str = "mount") -> str | None:
    text = table.string(name)
    if text is None:
        return None
    text = text.strip("/")
    if not text or any(seg in ("", ".", "..") for seg in text.split("/")):
        table.problem(name, "must be a mount path such as 'approle' or 'auth/approle'")
        return None
    return text


def _url(table: Table, name: str, *, required: bool = False) -> str | None:
    text = table.string(name, required=required)
    if text is not None and not text.startswith(_SCHEMES):
        table.problem(name, "must be an http:// or https:// URL")
        return None
    return text


def _addresses(table: Table, environ: Mapping[str, str]) -> tuple[str, ...]:
    """``address``: one URL or a list of them (the nodes of a cluster, tried in turn); else
    ``$VAULT_ADDR``, which may hold several separated by commas. Empty when unusable."""
    raw = table.raw("address")
    if raw is None and environ.get("VAULT_ADDR"):
        urls = split_addresses(environ["VAULT_ADDR"])
        if urls and all(url.startswith(_SCHEMES) for url in urls):
            return urls
        table.problem("address", "$VAULT_ADDR must hold http:// or https:// URLs")
        return ()
    if not isinstance(raw, list):
        url = _url(table, "address", required=True)
        return unique_addresses([url]) if url is not None else ()
    for index, item in enumerate(raw):
        if not isinstance(item, str) or not item.startswith(_SCHEMES):
            table.problem("address", f"item {index + 1} must be an http:// or https:// URL")
            return ()
    if not raw:
        table.problem("address", "must name at least one URL")
    return unique_addresses(raw)


def parse_backend(
    data: Mapping[str, object],
    problems: Problems,
    environ: Mapping[str, str],
    base_dir: Path | None,
) -> VaultBackendConfig | AwsBackendConfig | None:
    """Parse ``[backend]``; record problems and return ``None`` when it is unusable."""
    table = Table(data, "backend", problems)
    ctx = _Context(environ, base_dir)
    kind = table.choice("type", BACKEND_TYPES, None)
    timeout = table.duration("timeout", 10.0)
    if kind == "aws":
        backend: VaultBackendConfig | AwsBackendConfig | None = AwsBackendConfig(
            region=table.string("region"),
            endpoint_url=_url(table, "endpoint_url"),
            version_stage=table.string("version_stage"),
            timeout=timeout or 10.0,
        )
    elif kind == "vault":
        addresses = _addresses(table, environ)
        auth_data = table.table("auth", required=True)
        auth = (
            parse_auth(auth_data, "backend.auth", problems, ctx) if auth_data is not None else None
        )
        kv_mount = _mount(table, "kv_mount") or "secret"
        kv_version = table.integer("kv_version", 2, 1, 2)
        namespace = table.string("namespace")
        ca_cert = ctx.file(table, "ca_cert", credential=False) if table.has("ca_cert") else None
        backend = None
        if addresses and auth is not None:
            backend = VaultBackendConfig(
                address=addresses[0],
                addresses=addresses if len(addresses) > 1 else (),
                auth=auth,
                kv_mount=kv_mount,
                kv_version=kv_version,
                namespace=namespace,
                ca_cert=ca_cert,
                timeout=timeout or 10.0,
            )
    else:
        for key in list(data):  # type unknown: don't also report every key as unknown
            table.raw(key)
        backend = None
    table.finish()
    return backend
