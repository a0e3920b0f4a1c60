"""The server's whole in-memory state behind one lock: mounts, auth methods, tokens, seal."""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from secrets_agent.devserver.flavor import VAULT, Flavor
from secrets_agent.devserver.kvstore import KVv1, KVv2
from secrets_agent.devserver.policy import normalize_paths
from secrets_agent.devserver.tokens import TokenStore, random_id

KVEngine = KVv1 | KVv2


@dataclass(slots=True)
class SecretId:
    """One AppRole secret_id's record (the secret_id itself is its key in the role)."""

    accessor: str
    created: float
    ttl: float = 0.0  # 0 = never expires
    num_uses: int = 0  # uses left; 0 = unlimited
    metadata: dict[str, str] = field(default_factory=dict)
    cidr_list: list[str] = field(default_factory=list)
    token_bound_cidrs: list[str] = field(default_factory=list)
    updated: float = 0.0

    def expired(self, now: float) -> bool:
        return bool(self.ttl) and self.created + self.ttl <= now


@dataclass(slots=True)
class AppRole:
    """An AppRole role: its role_id, live secret_ids and the tokens it issues."""

    name: str
    role_id: str
    secret_ids: dict[str, SecretId] = field(default_factory=dict)
    paths: tuple[str, ...] | None = None
    policies: list[str] = field(default_factory=list)
    token_ttl: float = 0.0
    bind_secret_id: bool = True
    token_max_ttl: float = 0.0
    token_explicit_max_ttl: float = 0.0
    token_period: float = 0.0
    secret_id_ttl: float = 0.0
    secret_id_num_uses: int = 0
    secret_id_bound_cidrs: list[str] | None = None
    token_bound_cidrs: list[str] = field(default_factory=list)

    def new_secret_id(self, secret_id: str | None = None, **settings: Any) -> tuple[str, SecretId]:
        """Store a new secret_id (random unless given) with the role's TTL and use limit."""
        now = time.time()
        record = SecretId(accessor=str(uuid.uuid4()), created=now, updated=now,
                          ttl=self.secret_id_ttl, num_uses=self.secret_id_num_uses)  # fmt: skip
        for key, value in settings.items():
            setattr(record, key, value)
        secret_id = secret_id or str(uuid.uuid4())
        self.secret_ids[secret_id] = record
        return secret_id, record

    def by_accessor(self, accessor: str) -> str | None:
        """The secret_id whose accessor is ``accessor``."""
        return next((s for s, r in self.secret_ids.items() if r.accessor == accessor), None)


@dataclass(slots=True)
class KubernetesRole:
    """A Kubernetes auth role that accepts the configured service-account JWTs."""

    name: str
    jwts: set[str] = field(default_factory=set)
    paths: tuple[str, ...] | None = None
    policies: list[str] = field(default_factory=list)
    token_ttl: float = 0.0


@dataclass(slots=True)
class AuthMount:
    """An enabled auth method (``approle`` or ``kubernetes``) and its roles."""

    type: str
    accessor: str
    roles: dict[str, Any] = field(default_factory=dict)


class VaultState:
    """Everything the server knows. Hold ``lock`` while reading or changing any of it."""

    def __init__(self, root_token: str | None = None, flavor: Flavor = VAULT) -> None:
        self.lock = threading.RLock()
        self.flavor = flavor
        self.wrapped: dict[str, Any] = {}  # wrapping token -> handlers.wrapping.Wrapped
        self.token_roles: dict[str, Any] = {}  # name -> handlers.token_roles.TokenRole
        self.sealed = False
        self.cluster_id = str(uuid.uuid4())
        self.mounts: dict[str, KVEngine] = {"secret": KVv2()}
        self.mount_accessors: dict[str, str] = {"secret": "kv_" + random_id(8).lower()}
        self.auth_mounts: dict[str, AuthMount] = {}
        self.tokens = TokenStore(prefix=flavor.token_prefix)
        root = self.tokens.create(
            policies=["root"],
            path="auth/token/root",
            display_name="root",
            token_id=root_token,
            orphan=True,
        )
        self.root_token = root.id

    # -- secrets engines ----------------------------------------------------------------
    def find_mount(self, path: str) -> tuple[str, KVEngine] | None:
        """(mount, engine) whose mount path is the longest prefix of ``path``."""
        best: tuple[str, KVEngine] | None = None
        for name, engine in self.mounts.items():
            if (path == name or path.startswith(name + "/")) and (
                best is None or len(name) > len(best[0])
            ):
                best = (name, engine)
        return best

    def enable_kv(self, mount: str, version: int) -> None:
        """Mount a KV engine; ValueError if the path is taken or the version is unknown."""
        mount = mount.strip("/")
        if version not in (1, 2):
            raise ValueError(f"unknown KV version {version!r}")
        if not mount or mount in self.mounts or self.find_mount(mount) is not None:
            raise ValueError(f"path is already in use at {mount}/")
        if mount in ("sys", "auth", "cubbyhole", "identity") or mount.startswith("auth/"):
            raise ValueError(f"cannot mount at reserved path {mount}/")
        self.mounts[mount] = KVv2() if version == 2 else KVv1()
        self.mount_accessors[mount] = "kv_" + random_id(8).lower()

    def disable_mount(self, mount: str) -> None:
        self.mounts.pop(mount.strip("/"), None)

    def kv(self, mount: str) -> KVEngine:
        """The engine at ``mount``; KeyError if nothing is mounted there."""
        engine = self.mounts.get(mount.strip("/"))
        if engine is None:
            raise KeyError(f"no KV mount at {mount!r}")
        return engine

    # -- auth methods ---------------------------------------------------------------------
    def enable_auth(self, mount: str, type_: str) -> AuthMount:
        """Enable an auth method, or return the existing one of the same type."""
        mount = mount.strip("/")
        existing = self.auth_mounts.get(mount)
        if existing is not None:
            if existing.type != type_:
                raise ValueError(f"path is already in use at auth/{mount}/")
            return existing
        if type_ not in ("approle", "kubernetes"):
            raise ValueError(f"unknown auth method type {type_!r}")
        created = self.auth_mounts[mount] = AuthMount(type_, "auth_" + type_ + "_" + random_id(8))
        return created

    def approle(self, mount: str, name: str, **settings: Any) -> AppRole:
        """Create or update an AppRole role (enabling the method if needed)."""
        auth = self.enable_auth(mount, "approle")
        role = auth.roles.get(name)
        if role is None:
            role = auth.roles[name] = AppRole(name=name, role_id=str(uuid.uuid4()))
        for key, value in settings.items():
            setattr(role, key, normalize_paths(value) if key == "paths" else value)
        return role

    def kubernetes_role(self, mount: str, name: str, **settings: Any) -> KubernetesRole:
        """Create or update a Kubernetes role (enabling the method if needed)."""
        auth = self.enable_auth(mount, "kubernetes")
        role = auth.roles.get(name)
        if role is None:
            role = auth.roles[name] = KubernetesRole(name=name)
        for key, value in settings.items():
            setattr(role, key, normalize_paths(value) if key == "paths" else value)
        return role
