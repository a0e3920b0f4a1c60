"""Auth method endpoints: AppRole and Kubernetes roles and logins; token auth delegated."""

from __future__ import annotations

import base64
import json
from typing import TYPE_CHECKING, Any

from secrets_agent.devserver.handlers import approle, token_auth
from secrets_agent.devserver.state import AppRole, AuthMount
from secrets_agent.devserver.wire import (
    DEFAULT_LEASE_SECONDS,
    Reply,
    error,
    no_content,
    ok,
    parse_duration,
)

if TYPE_CHECKING:
    from secrets_agent.devserver.state import VaultState
    from secrets_agent.devserver.wire import Request


def _split(path: str) -> tuple[str, str]:
    """``auth/<mount>/<rest>`` -> (mount, rest)."""
    _, _, rest = path.partition("/")
    mount, _, sub = rest.partition("/")
    return mount, sub


def is_login(state: VaultState, path: str) -> bool:
    """Whether ``path`` is the login endpoint of an enabled auth method (no token needed)."""
    if not path.startswith("auth/"):
        return False
    mount, sub = _split(path)
    return sub.rstrip("/") == "login" and mount in state.auth_mounts


def _issue(state: VaultState, role: Any, path: str, display: str, meta: dict[str, str]) -> Reply:
    caps = [c for c in (getattr(role, "token_explicit_max_ttl", 0.0),
                        getattr(role, "token_max_ttl", 0.0)) if c]  # fmt: skip
    token = state.tokens.create(
        policies=role.policies,
        paths=role.paths,
        ttl=role.token_ttl or DEFAULT_LEASE_SECONDS,
        path=path,
        display_name=display,
        meta=meta,
        orphan=True,
        period=getattr(role, "token_period", 0.0),
        explicit_max_ttl=min(caps) if caps else 0.0,
    )
    auth = token_auth.auth_block(token, state.tokens.clock())
    return ok(None, auth=auth, mount_type="")


def login(state: VaultState, req: Request) -> Reply:
    """AppRole or Kubernetes login."""
    mount, _ = _split(req.path)
    auth = state.auth_mounts[mount]
    path = f"auth/{mount}/login"
    if auth.type == "approle":
        found = approle.login(auth.roles, req, state.tokens.clock())
        if isinstance(found, Reply):
            return found
        role, meta = found
        return _issue(state, role, path, "approle", {**meta, "role_name": role.name})
    name, jwt = req.data.get("role"), req.data.get("jwt")
    if not name:
        return error(400, "missing role")
    if not jwt:
        return error(400, "missing jwt")
    k8s_role = auth.roles.get(str(name))
    if k8s_role is None:
        return error(400, f'invalid role name "{name}"')
    # The dev server cannot ask a Kubernetes API server to review the token: a role accepts
    # exactly the JWTs it was given, and a role given none accepts no login at all.
    if str(jwt) not in k8s_role.jwts:
        return error(403, "permission denied")
    claims = _jwt_claims(str(jwt))
    sa_name, namespace, uid, secret = _service_account(claims or {})
    meta = {
        "role": k8s_role.name,
        "service_account_name": sa_name,
        "service_account_namespace": namespace,
        "service_account_secret_name": secret,
        "service_account_uid": uid,
    }
    return _issue(state, k8s_role, path, f"kubernetes-{namespace}-{sa_name}", meta)


def _jwt_claims(jwt: str) -> dict[str, Any] | None:
    """The payload of a JWT-shaped string (``{}`` if undecodable), ``None`` if not JWT-shaped."""
    parts = jwt.split(".")
    if len(parts) != 3 or not all(parts[:2]):
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except ValueError:
        return {}
    return claims if isinstance(claims, dict) else {}


def _as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _service_account(claims: dict[str, Any]) -> tuple[str, str, str, str]:
    """(name, namespace, uid, secret name) from legacy or projected token claims."""
    legacy = "kubernetes.io/serviceaccount/"
    k8s = _as_dict(claims.get("kubernetes.io"))
    sa = _as_dict(k8s.get("serviceaccount"))
    name = claims.get(legacy + "service-account.name") or sa.get("name") or "default"
    namespace = claims.get(legacy + "namespace") or k8s.get("namespace") or "default"
    uid = claims.get(legacy + "service-account.uid") or sa.get("uid") or ""
    secret = claims.get(legacy + "secret.name") or ""
    return str(name), str(namespace), str(uid), str(secret)


def _role_settings(data: dict[str, Any]) -> dict[str, Any]:
    settings: dict[str, Any] = {}
    policies = data.get("token_policies", data.get("policies"))
    if policies is not None:
        settings["policies"] = token_auth.policy_list(policies) or []
    for key in ("token_ttl", "token_max_ttl", "token_explicit_max_ttl", "token_period",
                "secret_id_ttl"):  # fmt: skip
        if data.get(key) not in (None, ""):
            settings[key] = parse_duration(data[key])
    if data.get("period") not in (None, ""):
        settings["token_period"] = parse_duration(data["period"])
    if data.get("secret_id_num_uses") not in (None, ""):
        settings["secret_id_num_uses"] = int(data["secret_id_num_uses"])
    for key in ("secret_id_bound_cidrs", "token_bound_cidrs"):
        if isinstance(data.get(key), list):
            settings[key] = [str(c) for c in data[key]]
    if "bind_secret_id" in data:
        settings["bind_secret_id"] = data["bind_secret_id"] not in (False, "false", "0")
    return settings


def handle(state: VaultState, req: Request) -> Reply:
    """Everything under ``auth/`` except logins."""
    if req.path.startswith("auth/token/"):
        return token_auth.handle(state, req)
    mount, sub = _split(req.path)
    auth = state.auth_mounts.get(mount)
    if auth is None:
        return error(404, f'no handler for route "{req.path.rstrip("/")}". route entry not found.')
    parts = sub.rstrip("/").split("/")
    if parts[0] == "config" and auth.type == "kubernetes" and len(parts) == 1:
        return no_content() if req.op == "update" else ok({}, mount_type=auth.type)
    if parts[0] != "role":
        return error(404, "unsupported path")
    if req.op == "list" and len(parts) == 1:
        keys = sorted(auth.roles)
        return ok({"keys": keys}, mount_type=auth.type) if keys else error(404)
    if len(parts) < 2 or not parts[1]:
        return error(404, "unsupported path")
    try:
        return _role_endpoint(state, auth, mount, parts[1], parts[2:], req)
    except (TypeError, ValueError):
        return error(400, "invalid request")


def _role_endpoint(
    state: VaultState, auth: AuthMount, mount: str, name: str, rest: list[str], req: Request
) -> Reply:
    role = auth.roles.get(name)
    if not rest:
        if req.op == "update":
            return _write_role(state, auth, mount, name, req)
        if req.op == "delete":
            auth.roles.pop(name, None)
            return no_content()
        if role is None:
            return error(404)
        if isinstance(role, AppRole):
            return ok(approle.role_data(role), mount_type=auth.type)
        data = {"token_policies": role.policies, "token_ttl": int(role.token_ttl)}
        return ok(data, mount_type=auth.type)
    if not isinstance(role, AppRole):
        if role is None:
            return error(400, f'role "{name}" does not exist')
        return error(404, "unsupported path")
    return approle.handle(role, "/".join(rest), req, state.tokens.clock())


def _write_role(state: VaultState, auth: AuthMount, mount: str, name: str, req: Request) -> Reply:
    """Create or update a role over the API; one holding only the ``default`` policy may use
    no path beyond it (the dev server keeps no policy documents)."""
    settings = _role_settings(req.data)
    if auth.type != "approle":
        state.kubernetes_role(mount, name, **settings)
        return no_content()
    existing = auth.roles.get(name)
    refused = approle.check_constraints(
        bool(settings.get("bind_secret_id", getattr(existing, "bind_secret_id", True))),
        settings.get("secret_id_bound_cidrs", getattr(existing, "secret_id_bound_cidrs", None)),
        settings.get("token_bound_cidrs", getattr(existing, "token_bound_cidrs", [])),
    )
    if refused is not None:
        return refused
    role = state.approle(mount, name, **settings)
    role.paths = token_auth.default_only(role.policies, role.paths)
    return no_content()
