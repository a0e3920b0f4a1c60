"""Seed files: initial mounts, secrets and auth roles for ``secrets-agent dev-server --seed``.

Format (JSON object, every key optional)::

    {
      "mounts":     {"kv1": 1, "team/kv": 2},              # extra KV mounts -> version
      "secrets":    {"secret/alpaca": {"api_key_id": "..."},  # "<mount>/<path>" -> data
                     "kv1/db": {"password": "..."}},
      "approle":    {"agent": {"paths": ["secret/data/*"], "token_ttl": 3600,
                               "bind_secret_id": true}},       # false: role_id-only login
      "kubernetes": {"app": {"jwt": "...", "paths": null, "token_ttl": 600}}
    }
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from secrets_agent.devserver.server import VaultDevServer

_KEYS = {"mounts", "secrets", "approle", "kubernetes"}
_ROLE_KEYS = {"approle": {"paths", "token_ttl", "policies", "bind_secret_id"},
              "kubernetes": {"jwt", "paths", "token_ttl", "policies"}}  # fmt: skip


class SeedError(ValueError):
    """The seed file is unreadable or malformed (the message never includes values)."""


def _mapping(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise SeedError(f"{where}: expected a JSON object")
    return value


def load_seed(server: VaultDevServer, path: str | Path) -> list[str]:
    """Apply the seed file to ``server``; returns ``NAME=value`` lines worth printing."""
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise SeedError(f"cannot read seed file {path}: {exc.__class__.__name__}") from exc
    except ValueError as exc:
        raise SeedError(
            f"seed file {path} is not valid JSON (line {getattr(exc, 'lineno', '?')})"
        ) from exc
    seed = _mapping(document, "seed")
    unknown = sorted(set(seed) - _KEYS)
    if unknown:
        raise SeedError(f"seed: unknown keys {unknown}; expected {sorted(_KEYS)}")
    for mount, version in _mapping(seed.get("mounts", {}), "mounts").items():
        if version not in (1, 2):
            raise SeedError(f"mounts.{mount}: version must be 1 or 2")
        try:
            server.enable_kv(mount, version)
        except ValueError as exc:
            raise SeedError(f"mounts.{mount}: {exc}") from exc
    for full_path, data in _mapping(seed.get("secrets", {}), "secrets").items():
        _put(server, full_path, _mapping(data, f"secrets.{full_path}"))
    lines: list[str] = []
    for kind in ("approle", "kubernetes"):
        for role, settings in _mapping(seed.get(kind, {}), kind).items():
            options = _mapping(settings, f"{kind}.{role}")
            extra = sorted(set(options) - _ROLE_KEYS[kind])
            if extra:
                raise SeedError(f"{kind}.{role}: unknown keys {extra}")
            if kind == "approle":
                role_id, secret_id = server.enable_approle(role, **options)
                lines += [f"VAULT_ROLE_ID={role_id}", f"VAULT_SECRET_ID={secret_id}"]
            else:
                server.enable_kubernetes(role, **options)
    return lines


def _put(server: VaultDevServer, full_path: str, data: dict[str, Any]) -> None:
    mount, _, _ = full_path.strip("/").rpartition("/")
    while mount:
        try:
            server.put_secret(full_path.strip("/")[len(mount) + 1 :], data, mount=mount)
            return
        except KeyError:
            mount, _, _ = mount.rpartition("/")
    raise SeedError(f'secrets.{full_path}: no KV mount for this path (add it under "mounts")')
