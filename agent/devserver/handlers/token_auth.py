"""Token auth endpoints under ``auth/token/``: lookup, renew, create, revoke."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from secrets_agent.devserver.handlers import token_roles
from secrets_agent.devserver.handlers.token_roles import TokenRole
from secrets_agent.devserver.tokens import Token, TokenStore
from secrets_agent.devserver.wire import (
    DEFAULT_LEASE_SECONDS,
    Reply,
    error,
    no_content,
    ok,
    parse_duration,
    rfc3339,
)

if TYPE_CHECKING:
    from secrets_agent.devserver.state import VaultState
    from secrets_agent.devserver.wire import Request


_BUILT_IN = ("default", "root")


def auth_block(token: Token, now: float) -> dict[str, Any]:
    """The ``auth`` object of a login / create / renew response, in Vault's key order."""
    policies = list(token.policies)
    return {
        "client_token": token.id,
        "accessor": token.accessor,
        "policies": policies,
        "token_policies": policies,
        "metadata": token.meta,
        "lease_duration": token.remaining(now) if token.expire_at else 0,
        "renewable": token.renewable,
        "entity_id": "",
        "token_type": "service",
        "orphan": token.orphan,
        "mfa_requirement": None,
        "num_uses": token.num_uses,
    }


def lookup_data(token: Token, now: float) -> dict[str, Any]:
    """The ``data`` of ``auth/token/lookup-self``."""
    data: dict[str, Any] = {
        "accessor": token.accessor,
        "creation_time": int(token.creation_time),
        "creation_ttl": int(token.ttl),
        "display_name": token.display_name,
        "entity_id": "",
        "expire_time": rfc3339(int(token.expire_at * 1e9)) if token.expire_at else None,
        "explicit_max_ttl": int(token.explicit_max_ttl),
        "id": token.id,
        "issue_time": rfc3339(int(token.creation_time * 1e9)),
        "meta": token.meta,
        "num_uses": token.num_uses,
        "orphan": token.orphan,
        "path": token.path,
        **({"period": int(token.period)} if token.period else {}),
        "policies": list(token.policies),
        "renewable": token.renewable,
        **({"role": token.extra["role"]} if "role" in token.extra else {}),
        "ttl": token.remaining(now),
        "type": "service",
    }
    if token.last_renewal is not None:
        data["last_renewal"] = rfc3339(int(token.last_renewal * 1e9))
        data["last_renewal_time"] = int(token.last_renewal)
    return data


def default_only(policies: list[str], paths: tuple[str, ...] | None) -> tuple[str, ...] | None:
    """The paths of a token created over the API: one holding only the ``default`` policy may
    use no path beyond the default policy's (as in Vault); otherwise ``paths`` (the dev server
    keeps no policy documents, so a named policy allows what its creator's token allows)."""
    return () if set(policies) <= {"default"} else paths


def policy_list(value: Any) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return [p.strip() for p in value.split(",") if p.strip()]
    if isinstance(value, list):
        return [str(p) for p in value]
    raise ValueError("policies")


def _create(store: TokenStore, parent: Token, req: Request, role: TokenRole | None) -> Reply:
    body = req.data
    try:
        policies = policy_list(body.get("policies"))
        ttl = parse_duration(body["ttl"]) if body.get("ttl") else None
        period = parse_duration(body["period"]) if body.get("period") else 0.0
        max_ttl = parse_duration(body["explicit_max_ttl"]) if body.get("explicit_max_ttl") else 0.0
        meta = body.get("meta")
        if meta is not None and not isinstance(meta, dict):
            raise ValueError("meta")
    except (TypeError, ValueError):
        return error(400, "invalid request")
    if role is not None:
        policies = policies if policies is not None else list(role.allowed_policies)
        refused = role.refuse(sorted({"default", *policies}))
        if refused is not None:
            return error(400, refused)
        # a role's period sets the TTL; the token shows the role, not a period, on lookup
        ttl, max_ttl = role.period or ttl, role.explicit_max_ttl or max_ttl
    if policies is None:
        policies = list(parent.policies)
    elif (
        role is None
        and not parent.is_root
        and not set(policies) <= set(parent.policies) | {"default"}
    ):
        return error(400, "child policies must be subset of parent")
    if ttl is None and "root" not in policies:
        ttl = DEFAULT_LEASE_SECONDS
    name = str(body.get("display_name") or "").strip()
    orphan = req.path.endswith("create-orphan") or bool(body.get("no_parent"))
    renewable = body.get("renewable", True) is not False
    if role is not None:
        orphan, renewable = role.orphan, role.renewable and renewable
    token = store.create(
        policies=policies,
        paths=default_only(policies, parent.paths),
        ttl=ttl,
        renewable=renewable,
        path=req.path.rstrip("/"),
        display_name=f"token-{name}" if name else "token",
        meta={str(k): str(v) for k, v in meta.items()} if meta else None,
        orphan=orphan,
        period=period,
        explicit_max_ttl=max_ttl,
    )
    if role is not None:
        token.extra["role"] = role.name
    missing = [f'Policy "{p}" does not exist' for p in token.policies if p not in _BUILT_IN]
    return ok(None, auth=auth_block(token, store.clock()), warnings=missing or None,
              mount_type="token")  # fmt: skip


def _renew(store: TokenStore, token: Token, req: Request) -> Reply:
    try:
        raw = req.data.get("increment")
        increment = parse_duration(raw) if raw not in (None, "", 0) else None
    except ValueError:
        return error(400, "invalid increment")
    try:
        warnings = store.renew(token, increment)
    except ValueError as exc:
        return error(400, str(exc))
    return ok(None, auth=auth_block(token, store.clock()), warnings=warnings, mount_type="token")


def handle(state: VaultState, req: Request) -> Reply:
    """Answer ``auth/token/<endpoint>`` for the (already validated) ``req.token``."""
    store, token = state.tokens, req.token
    assert token is not None
    endpoint = req.path[len("auth/token/") :].rstrip("/")
    now = store.clock()
    if endpoint == "lookup-self" and req.op in ("read", "update"):
        return ok(lookup_data(token, now), mount_type="token")
    if endpoint in ("lookup", "renew", "revoke") and req.op == "update":
        other = store.lookup(str(req.data.get("token") or ""))
        if other is None:
            return error(403, "bad token")
        if endpoint == "lookup":
            return ok(lookup_data(other, now), mount_type="token")
        if endpoint == "renew":
            return _renew(store, other, req)
        store.revoke(other.id)
        return no_content()
    if endpoint == "renew-self" and req.op == "update":
        return _renew(store, token, req)
    if endpoint == "revoke-self" and req.op == "update":
        store.revoke(token.id)
        return no_content()
    if endpoint in ("create", "create-orphan") and req.op == "update":
        return _create(store, token, req, None)
    if endpoint.startswith("create/") and req.op == "update":
        role = state.token_roles.get(endpoint[len("create/") :])
        if role is None:
            return error(400, f"unknown role {endpoint[len('create/') :]}")
        return _create(store, token, req, role)
    if endpoint == "roles" or endpoint.startswith("roles/"):
        return token_roles.handle(state, req, endpoint)
    return error(404, "unsupported path")
