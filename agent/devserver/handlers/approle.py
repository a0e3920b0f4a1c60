"""AppRole: role settings, secret_ids (with accessors, metadata, TTLs and use limits) and login.

``handle`` answers ``auth/<mount>/role/<name>/<endpoint>``; ``login`` checks a role_id and, when
the role binds one, a secret_id (used up after its ``num_uses``, gone after its TTL).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from secrets_agent.devserver.state import AppRole, SecretId
from secrets_agent.devserver.wire import Reply, envelope, error, no_content, ok, rfc3339

if TYPE_CHECKING:
    from secrets_agent.devserver.wire import Request

INVALID_CREDENTIALS = "invalid role or secret ID"
NO_CONSTRAINT = "1 error occurred:\n\t* at least one constraint should be enabled on the role\n\n"
_NEVER = "0001-01-01T00:00:00Z"


def role_data(role: AppRole) -> dict[str, Any]:
    """The ``data`` of a role read, in the server's key order."""
    return {
        "bind_secret_id": role.bind_secret_id, "local_secret_ids": False,
        "secret_id_bound_cidrs": role.secret_id_bound_cidrs,
        "secret_id_num_uses": role.secret_id_num_uses, "secret_id_ttl": int(role.secret_id_ttl),
        "token_bound_cidrs": list(role.token_bound_cidrs),
        "token_explicit_max_ttl": int(role.token_explicit_max_ttl),
        "token_max_ttl": int(role.token_max_ttl), "token_no_default_policy": False,
        "token_num_uses": 0, "token_period": int(role.token_period),
        "token_policies": list(role.policies), "token_strictly_bind_ip": False,
        "token_ttl": int(role.token_ttl), "token_type": "default",
    }  # fmt: skip


def check_constraints(
    bind_secret_id: bool, secret_id_bound_cidrs: list[str] | None, token_bound_cidrs: list[str]
) -> Reply | None:
    """A role needs a secret_id or a CIDR binding: the 500 the server gives otherwise."""
    if bind_secret_id or secret_id_bound_cidrs or token_bound_cidrs:
        return None
    return error(500, NO_CONSTRAINT)


def _lookup_data(record: SecretId) -> dict[str, Any]:
    expires = rfc3339(int((record.created + record.ttl) * 1e9)) if record.ttl else _NEVER
    return {
        "cidr_list": list(record.cidr_list), "creation_time": rfc3339(int(record.created * 1e9)),
        "expiration_time": expires, "last_updated_time": rfc3339(int(record.updated * 1e9)),
        "metadata": dict(record.metadata), "secret_id_accessor": record.accessor,
        "secret_id_num_uses": record.num_uses, "secret_id_ttl": int(record.ttl),
        "token_bound_cidrs": list(record.token_bound_cidrs),
    }  # fmt: skip


def _metadata(raw: Any) -> dict[str, str]:
    """``metadata``: a JSON object, given as a string (as the API takes it) or an object."""
    if raw in (None, ""):
        return {}
    value = json.loads(raw) if isinstance(raw, str) else raw
    if not isinstance(value, dict):
        raise ValueError("metadata")
    return {str(k): str(v) for k, v in value.items()}


def _generate(role: AppRole, req: Request, custom: bool) -> Reply:
    settings: dict[str, Any] = {"metadata": _metadata(req.data.get("metadata"))}
    if req.data.get("num_uses") not in (None, ""):
        settings["num_uses"] = int(req.data["num_uses"])
    for key in ("cidr_list", "token_bound_cidrs"):
        if isinstance(req.data.get(key), list):
            settings[key] = [str(c) for c in req.data[key]]
    wanted = str(req.data.get("secret_id") or "") if custom else ""
    return ok(secret_id_answer(*role.new_secret_id(wanted or None, **settings)),
              mount_type="approle")  # fmt: skip


def secret_id_answer(secret_id: str, record: SecretId) -> dict[str, Any]:
    """The ``data`` of a secret_id generation."""
    return {"secret_id": secret_id, "secret_id_accessor": record.accessor,
            "secret_id_num_uses": record.num_uses, "secret_id_ttl": int(record.ttl)}  # fmt: skip


def handle(role: AppRole, endpoint: str, req: Request, now: float) -> Reply:
    """``role/<name>/<endpoint>`` of an existing AppRole role."""
    if endpoint == "role-id":
        if req.op == "update" and req.data.get("role_id"):
            role.role_id = str(req.data["role_id"])
            return no_content()
        return ok({"role_id": role.role_id}, mount_type="approle")
    if endpoint in ("secret-id", "custom-secret-id") and req.op == "update":
        return _generate(role, req, custom=endpoint == "custom-secret-id")
    if endpoint == "secret-id" and req.op == "list":
        keys = sorted(r.accessor for r in role.secret_ids.values() if not r.expired(now))
        return ok({"keys": keys}, mount_type="approle") if keys else error(404)
    if endpoint == "secret-id/lookup" and req.op == "update":
        record = role.secret_ids.get(str(req.data.get("secret_id") or ""))
        if record is None or record.expired(now):
            return no_content()
        return ok(_lookup_data(record), mount_type="approle")
    if endpoint == "secret-id/destroy" and req.op in ("update", "delete"):
        role.secret_ids.pop(str(req.data.get("secret_id") or ""), None)
        return no_content()
    if endpoint.startswith("secret-id-accessor/") and req.op in ("update", "delete"):
        accessor = str(req.data.get("secret_id_accessor") or "")
        secret_id = role.by_accessor(accessor)
        missing = f'failed to find accessor entry for secret_id_accessor: "{accessor}"'
        if endpoint == "secret-id-accessor/lookup" and req.op == "update":
            if secret_id is None:
                return Reply(404, envelope({"error": missing}, mount_type="approle"))
            return ok(_lookup_data(role.secret_ids[secret_id]), mount_type="approle")
        if endpoint == "secret-id-accessor/destroy":
            if secret_id is None:
                return error(500, f"1 error occurred:\n\t* {missing}\n\n")
            del role.secret_ids[secret_id]
            return no_content()
    return error(404, "unsupported path")


def login(
    roles: dict[str, Any], req: Request, now: float
) -> tuple[AppRole, dict[str, str]] | Reply:
    """The role a login's credentials name and the secret_id's metadata (a use counted), or
    the error."""
    role_id = req.data.get("role_id")
    if not role_id:
        return error(400, "missing role_id")
    role = next((r for r in roles.values() if r.role_id == role_id), None)
    if role is None:
        return error(400, INVALID_CREDENTIALS)
    if not role.bind_secret_id:
        return role, {}
    secret_id = req.data.get("secret_id")
    if not secret_id:
        return error(400, "missing secret_id")
    record = role.secret_ids.get(str(secret_id))
    if record is None or record.expired(now):
        role.secret_ids.pop(str(secret_id), None)
        return error(400, INVALID_CREDENTIALS)
    if record.num_uses:
        record.num_uses -= 1
        record.updated = now
        if record.num_uses == 0:
            del role.secret_ids[str(secret_id)]
    return role, dict(record.metadata)
