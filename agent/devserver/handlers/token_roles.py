"""Token roles: ``auth/token/roles/<name>`` and what ``auth/token/create/<name>`` may issue."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from secrets_agent.devserver.wire import Reply, error, no_content, ok, parse_duration

if TYPE_CHECKING:
    from secrets_agent.devserver.state import VaultState
    from secrets_agent.devserver.wire import Request


@dataclass(slots=True)
class TokenRole:
    """What tokens created against a role get: allowed policies, orphan, renewable, period."""

    name: str
    allowed_policies: list[str] = field(default_factory=list)
    orphan: bool = False
    renewable: bool = True
    period: float = 0.0
    explicit_max_ttl: float = 0.0

    def data(self) -> dict[str, Any]:
        """The ``data`` of a role read, in the server's key order."""
        return {
            "allowed_entity_aliases": None, "allowed_policies": sorted(self.allowed_policies),
            "allowed_policies_glob": [], "disallowed_policies": [],
            "disallowed_policies_glob": [], "explicit_max_ttl": 0, "name": self.name,
            "orphan": self.orphan, "path_suffix": "", "period": 0, "renewable": self.renewable,
            "token_explicit_max_ttl": int(self.explicit_max_ttl), "token_no_default_policy": False,
            "token_period": int(self.period), "token_type": "default-service",
        }  # fmt: skip

    def refuse(self, policies: list[str]) -> str | None:
        """Why ``policies`` may not be issued by this role (None if they may)."""
        if set(policies) <= set(self.allowed_policies) | {"default"} or not self.allowed_policies:
            return None
        wanted, allowed = _go_list(policies), _go_list(self.allowed_policies)
        return (f"token policies ({wanted}) must be subset of the role's allowed policies "
                f"({allowed}) or glob policies ([])")  # fmt: skip


def _go_list(names: list[str]) -> str:
    """Go's ``%q`` of a sorted string slice: ``["a" "b"]``."""
    return "[" + " ".join(f'"{n}"' for n in sorted(set(names))) + "]"


def _write(state: VaultState, name: str, data: dict[str, Any]) -> Reply:
    role = state.token_roles.get(name) or TokenRole(name)
    try:
        if "allowed_policies" in data:
            raw = data["allowed_policies"]
            names = raw.split(",") if isinstance(raw, str) else list(raw or [])
            role.allowed_policies = [str(n).strip() for n in names if str(n).strip()]
        for key in ("orphan", "renewable"):
            if key in data:
                setattr(role, key, data[key] not in (False, "false", "0"))
        for key, attr in (("token_period", "period"), ("period", "period"),
                          ("token_explicit_max_ttl", "explicit_max_ttl"),
                          ("explicit_max_ttl", "explicit_max_ttl")):  # fmt: skip
            if data.get(key) not in (None, ""):
                setattr(role, attr, parse_duration(data[key]))
    except (TypeError, ValueError):
        return error(400, "invalid request")
    state.token_roles[name] = role
    return no_content()


def handle(state: VaultState, req: Request, endpoint: str) -> Reply:
    """``auth/token/roles`` and ``auth/token/roles/<name>``."""
    name = endpoint[len("roles/") :] if endpoint.startswith("roles/") else ""
    if not name:
        keys = sorted(state.token_roles)
        if req.op != "list":
            return error(405, "unsupported operation")
        return ok({"keys": keys}, mount_type="token") if keys else error(404)
    if req.op == "update":
        return _write(state, name, req.data)
    if req.op == "delete":
        state.token_roles.pop(name, None)
        return no_content()
    role = state.token_roles.get(name)
    return error(404) if role is None else ok(role.data(), mount_type="token")
