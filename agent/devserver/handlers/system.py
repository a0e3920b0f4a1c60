"""``sys/`` endpoints: health, seal status, seal/unseal, and secrets engine / auth mounts."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from secrets_agent.devserver.kvstore import KVv1
from secrets_agent.devserver.wire import Reply, error, no_content, ok

if TYPE_CHECKING:
    from secrets_agent.devserver.state import VaultState
    from secrets_agent.devserver.wire import Request

VERSION = "1.19.0"
_HEALTH_CODES = ("activecode", "standbycode", "drsecondarycode", "performancestandbycode",
                 "sealedcode", "uninitcode", "haunhealthycode", "removedcode")  # fmt: skip


def _seal_status(state: VaultState) -> dict[str, Any]:
    status: dict[str, Any] = {
        "type": "shamir", "initialized": True, "sealed": state.sealed, "t": 1, "n": 1,
        "progress": 0, "nonce": "", "version": VERSION, "build_date": "2025-03-04T12:00:00Z",
        "migration": False, "recovery_seal": False, "storage_type": "inmem",
    }  # fmt: skip
    if not state.sealed:
        status["cluster_name"] = "vault-cluster-dev"
        status["cluster_id"] = state.cluster_id
    return status


def _health(state: VaultState, req: Request) -> Reply:
    codes: dict[str, int] = {}
    for name in _HEALTH_CODES:
        if name in req.query:
            try:
                codes[name] = int(req.query[name])
            except ValueError:
                return error(400, f"bad code value {req.query[name]!r} for {name}")
    status = codes.get("sealedcode", 503) if state.sealed else codes.get("activecode", 200)
    body: dict[str, Any] = {
        "initialized": True, "sealed": state.sealed, "standby": False,
        "performance_standby": False, "replication_performance_mode": "disabled",
        "replication_dr_mode": "disabled", "server_time_utc": int(time.time()),
        "version": VERSION, "enterprise": False,
    }  # fmt: skip
    if not state.sealed:
        body["cluster_name"] = "vault-cluster-dev"
        body["cluster_id"] = state.cluster_id
    return Reply(status, None if req.method == "HEAD" else body)


def unauthenticated(state: VaultState, req: Request) -> Reply:
    """sys/health, sys/seal-status, sys/init and sys/unseal: answered even when sealed."""
    path = req.path.rstrip("/")
    with state.lock:
        if path == "sys/health" and req.op == "read":
            return _health(state, req)
        if path == "sys/seal-status" and req.op == "read":
            return Reply(200, _seal_status(state))
        if path == "sys/init" and req.op == "read":
            return Reply(200, {"initialized": True})
        if path == "sys/unseal" and req.op == "update":
            if req.data.get("reset"):
                return Reply(200, _seal_status(state))
            if not req.data.get("key"):
                return error(
                    400, "'key' must be specified in request body as JSON, or 'reset' set to true"
                )
            state.sealed = False
            return Reply(200, _seal_status(state))
    return error(405, "unsupported operation")


def _mount_info(type_: str, accessor: str, options: dict[str, str] | None) -> dict[str, Any]:
    return {
        "accessor": accessor, "config": {"default_lease_ttl": 0, "max_lease_ttl": 0,
        "force_no_cache": False}, "description": "", "external_entropy_access": False,
        "local": False, "options": options, "plugin_version": "", "running_plugin_version": "",
        "running_sha256": "", "seal_wrap": False, "type": type_, "uuid": accessor,
    }  # fmt: skip


def _list_mounts(state: VaultState) -> dict[str, Any]:
    mounts = {
        name + "/": _mount_info(
            "kv",
            state.mount_accessors.get(name, ""),
            {"version": "1" if isinstance(e, KVv1) else "2"},
        )
        for name, e in state.mounts.items()
    }
    mounts["sys/"] = _mount_info("system", "system_dev", None)
    mounts["cubbyhole/"] = _mount_info("cubbyhole", "cubbyhole_dev", None)
    return mounts


def _list_auth(state: VaultState) -> dict[str, Any]:
    methods = {
        name + "/": _mount_info(a.type, a.accessor, None) for name, a in state.auth_mounts.items()
    }
    methods["token/"] = _mount_info("token", "auth_token_dev", None)
    return methods


def _enable_mount(state: VaultState, mount: str, data: dict[str, Any]) -> Reply:
    type_ = str(data.get("type") or "")
    raw_options = data.get("options")
    options: dict[str, Any] = raw_options if isinstance(raw_options, dict) else {}
    if type_ == "kv-v2":
        version = 2
    elif type_ in ("kv", "generic"):
        version = int(str(options.get("version") or "1"))
    elif not type_:
        return error(400, "backend type must be specified as a string")
    else:
        return error(400, f"plugin not found in the catalog: {type_}")
    try:
        state.enable_kv(mount, version)
    except ValueError as exc:
        return error(400, str(exc))
    return no_content()


def handle(state: VaultState, req: Request) -> Reply:
    """Authenticated ``sys/`` endpoints."""
    path = req.path.rstrip("/")
    if path == "sys/seal" and req.op == "update":
        if req.token is None or not req.token.is_root:
            return error(403, "1 error occurred:\n\t* permission denied\n\n")
        state.sealed = True
        return no_content()
    if path in ("sys/mounts", "sys/auth") and req.op == "read":
        data = _list_mounts(state) if path == "sys/mounts" else _list_auth(state)
        return Reply(200, {**data, **ok(data, mount_type="system").payload})
    if path.startswith("sys/mounts/"):
        mount = path[len("sys/mounts/") :]
        if mount.endswith("/tune") and req.op == "read":
            return ok({"default_lease_ttl": 2764800, "max_lease_ttl": 2764800,
                       "force_no_cache": False}, mount_type="system")  # fmt: skip
        if req.op == "update":
            return _enable_mount(state, mount, req.data)
        if req.op == "delete":
            state.disable_mount(mount)
            return no_content()
    if path.startswith("sys/auth/"):
        mount = path[len("sys/auth/") :]
        if req.op == "update":
            if mount.strip("/") in state.auth_mounts or mount.strip("/") == "token":
                return error(400, f"path is already in use at {mount.strip('/')}/")
            try:
                state.enable_auth(mount, str(req.data.get("type") or ""))
            except ValueError as exc:
                return error(400, str(exc))
            return no_content()
        if req.op == "delete":
            state.auth_mounts.pop(mount.strip("/"), None)
            return no_content()
    return error(404, "unsupported path")
