"""Which server the dev server words its answers as: current HashiCorp Vault or OpenBao.

The two speak the same API and differ in a few words: a dead (unknown, revoked, expired) token's
403 (Vault >= 1.17 adds ``invalid token``; OpenBao says only ``permission denied``), the
``mount_type`` key of every envelope (Vault only), ``enterprise`` and ``performance_standby`` in
``sys/health`` (Vault only), the build date key of ``sys/seal-status`` (``build_date`` in Vault,
``commit_date`` in OpenBao), the token prefix (``hvs.`` / ``s.``) and OpenBao's metadata
check-and-set keys in KV v2 metadata (``current_metadata_version``, ``metadata_cas_required``).
Everything else is one answer, written once in the handlers; ``Flavor.reword`` words it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from secrets_agent.devserver.wire import Reply

VAULT_DEAD_TOKEN = "2 errors occurred:\n\t* permission denied\n\t* invalid token\n\n"  # noqa: S105
OPENBAO_DEAD_TOKEN = "permission denied"  # noqa: S105


@dataclass(frozen=True, slots=True)
class Flavor:
    """The words of one server."""

    name: str
    dead_token: str
    token_prefix: str
    mount_type: bool

    def reword(self, path: str, reply: Reply) -> Reply:
        """``reply`` (in Vault's words) as this server words it."""
        payload = reply.payload
        if not isinstance(payload, dict):
            return reply
        if self.mount_type:  # Vault: only OpenBao's metadata keys go
            data = payload.get("data")
            if isinstance(data, dict) and "oldest_version" in data:
                data.pop("current_metadata_version", None)
                data.pop("metadata_cas_required", None)
            return reply
        payload.pop("mount_type", None)
        path = path.rstrip("/")
        if path == "sys/health":
            payload.pop("enterprise", None)
            payload.pop("performance_standby", None)
        elif path in ("sys/seal-status", "sys/unseal") and "build_date" in payload:
            payload["commit_date"] = payload.pop("build_date")
        return reply


VAULT = Flavor("vault", VAULT_DEAD_TOKEN, "hvs.", mount_type=True)
OPENBAO = Flavor("openbao", OPENBAO_DEAD_TOKEN, "s.", mount_type=False)
FLAVORS = {flavor.name: flavor for flavor in (VAULT, OPENBAO)}
DEFAULT_FLAVOR = VAULT.name


def flavor_named(name: str) -> Flavor:
    """The flavour called ``name``; ``ValueError`` naming the known ones otherwise."""
    found = FLAVORS.get(name)
    if found is None:
        raise ValueError(f"unknown flavor {name!r}: one of {', '.join(sorted(FLAVORS))}")
    return found
