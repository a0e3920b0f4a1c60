"""The agent's parsed configuration: frozen dataclasses (re-exported by ``secrets_agent.config``).

Fields that can hold a credential (``token``, ``secret_id``) are left out of ``repr``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_JWT_FILE = Path("/var/run/secrets/kubernetes.io/serviceaccount/token")
# Keys of ``[backend.auth]`` that put a credential in the config file itself.
INLINE_CREDENTIALS = ("token", "secret_id")
FORMATS = ("fields", "json", "env", "raw", "template", "none")
KINDS = ("kv", "lease")  # a KV secret, or any Vault read that returns a lease or a certificate
METHODS = ("GET", "POST")
AUTH_METHODS = ("token", "approle", "kubernetes")
BACKEND_TYPES = ("vault", "aws")
DEFAULT_MAX_FIELDS = 128  # files one ``fields`` secret may write
DEFAULT_MAX_BYTES = 1024 * 1024  # bytes the files of one secret may hold together


@dataclass(frozen=True)
class AuthConfig:
    """How the agent logs in to Vault. Credential files are read at login time, not here."""

    method: str  # "token" | "approle" | "kubernetes"
    token: str | None = field(default=None, repr=False)
    token_file: Path | None = None
    role_id: str | None = None
    role_id_file: Path | None = None
    secret_id: str | None = field(default=None, repr=False)
    secret_id_file: Path | None = None
    secret_id_wrapped: bool = False  # secret_id holds a response-wrapping token
    role_id_only: bool = False  # a role with bind_secret_id=false: no secret_id is sent
    role: str | None = None
    jwt_file: Path = DEFAULT_JWT_FILE
    mount: str | None = None  # auth mount path; None means the method's default


@dataclass(frozen=True)
class VaultBackendConfig:
    address: str  # the first (or only) address
    auth: AuthConfig
    kv_mount: str = "secret"
    kv_version: int = 2
    namespace: str | None = None
    ca_cert: Path | None = None
    timeout: float = 10.0
    type: str = "vault"
    # Every node's address, in the order given; () means just ``address``.
    addresses: tuple[str, ...] = ()

    @property
    def all_addresses(self) -> tuple[str, ...]:
        """The addresses to fail over between, ``address`` first."""
        return self.addresses or (self.address,)


@dataclass(frozen=True)
class AwsBackendConfig:
    region: str | None = None
    endpoint_url: str | None = None
    version_stage: str | None = None
    timeout: float = 10.0
    type: str = "aws"


@dataclass(frozen=True, slots=True)
class SecretSpec:
    """One ``[[secrets]]`` entry with the agent's defaults already applied."""

    path: str
    target: str
    format: str = "fields"
    field: str | None = None
    template: str | None = None
    mode: int = 0o400
    owner: int | None = None  # uid; None = the agent's own
    group: int | None = None  # gid; None = the agent's own
    refresh_interval: float = 300.0
    on_change: tuple[str, ...] | None = None
    version_stage: str | None = None
    fields: tuple[str, ...] | None = None  # env: only these fields (and their names allowed)
    env_prefix: str | None = None  # env: every variable name starts with it
    max_fields: int = DEFAULT_MAX_FIELDS
    max_bytes: int = DEFAULT_MAX_BYTES
    # kind = "lease" (``config.lease_keys``): a Vault API path read with ``method`` and ``data``
    kind: str = "kv"
    method: str = "GET"
    data: tuple[tuple[str, str], ...] = ()  # request body (POST), in config order
    renew_at: float = 2 / 3  # renew (or re-issue a certificate) at this fraction of its life
    replace_margin: float = 30.0  # a lease that cannot be extended is replaced this early
    revoke_replaced: bool = False  # revoke the old lease after a replacement (else it expires)
    revoke_on_stop: bool = False


@dataclass(frozen=True)
class TemplateSpec:
    """One ``[[templates]]`` entry: one file rendered from the fields of several secrets.

    ``sources`` maps each source name the template uses (``{{ db.password }}``) to the target
    of the ``[[secrets]]`` entry that feeds it, in config order."""

    target: str
    template: str
    sources: tuple[tuple[str, str], ...]
    mode: int = 0o400
    owner: int | None = None
    group: int | None = None
    on_change: tuple[str, ...] | None = None
    max_bytes: int = DEFAULT_MAX_BYTES


@dataclass(frozen=True)
class AgentSettings:
    output_dir: Path
    refresh_interval: float = 300.0
    file_mode: int = 0o400
    dir_mode: int = 0o700
    owner: int | None = None
    group: int | None = None
    metrics_file: Path | None = None
    allow_non_tmpfs: bool = False
    concurrency: int = 8
    on_change_timeout: float = 30.0
    allow_world_readable: bool = False
    max_fields: int = DEFAULT_MAX_FIELDS
    max_bytes: int = DEFAULT_MAX_BYTES
    refuse_unsafe_files: bool = False  # see secrets_agent.cli.preflight
    outage_probe_max: float | None = None  # None: adaptive (daemon.outage.probe_ceiling)
    catch_up_window: float | None = None  # None: the fleet rule (daemon.outage.catch_up_window)


@dataclass(frozen=True)
class ExecSettings:
    """``[exec]``: what ``secrets-agent exec`` gives its command (``config.exec_table``)."""

    env: tuple[tuple[str, str], ...] = ()  # (variable name, secret key), in config order
    restart_on_change: bool = False
    stop_signal: int = 15  # SIGTERM
    stop_timeout: float = 10.0


@dataclass(frozen=True)
class Config:
    agent: AgentSettings
    backend: VaultBackendConfig | AwsBackendConfig
    secrets: tuple[SecretSpec, ...]
    source: Path | None = None
    exec: ExecSettings = ExecSettings()
    templates: tuple[TemplateSpec, ...] = ()
    # The document itself holds a credential (``INLINE_CREDENTIALS`` in ``[backend.auth]``):
    # the file must then be as private as a token file (``cli.preflight``).
    inline_credential: bool = False
