"""KV v1 and v2 endpoints, answered from the in-memory engines."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from secrets_agent.devserver.kvstore import Entry, KVError, KVv1, KVv2, Version
from secrets_agent.devserver.wire import (
    DEFAULT_LEASE_SECONDS,
    Reply,
    envelope,
    error,
    go_duration,
    no_content,
    now_ns,
    ok,
    parse_duration,
    rfc3339,
)

if TYPE_CHECKING:
    from secrets_agent.devserver.wire import Request

UNSUPPORTED = "unsupported operation"
_CLI_OP = {"read": "get", "update": "put", "list": "list", "delete": "delete", "patch": "patch"}


def handle(engine: KVv1 | KVv2, req: Request, sub: str) -> Reply:
    """Dispatch ``sub`` (the path inside the mount) to the engine's endpoints."""
    if isinstance(engine, KVv1):
        return _v1(engine, req, sub)
    return _v2(engine, req, sub)


def _v1(engine: KVv1, req: Request, path: str) -> Reply:
    if req.op == "list":
        keys = engine.list(path)
        return ok({"keys": keys}) if keys else error(404)
    path = path.strip("/")
    if req.op == "read":
        data = engine.read(path)
        if data is None:
            return error(404)
        lease = DEFAULT_LEASE_SECONDS
        ttl = data.get("ttl", data.get("lease"))
        if ttl is not None:
            try:
                lease = int(parse_duration(ttl))
            except ValueError:
                return error(400, "failed to parse ttl for entry")
        return ok(dict(data), lease_duration=lease)
    if req.op == "update":
        if not req.data:
            return error(400, "missing data fields")
        engine.write(path, req.data)
        return no_content()
    if req.op == "delete":
        engine.delete(path)
        return no_content()
    return error(405, UNSUPPORTED)


def version_metadata(entry: Entry, found: Version, number: int) -> dict[str, Any]:
    return {
        "created_time": rfc3339(found.created_ns),
        "custom_metadata": entry.custom_metadata,
        "deletion_time": rfc3339(found.deleted_ns),
        "destroyed": found.destroyed,
        "version": number,
    }


def _versions(req: Request) -> list[int] | Reply:
    raw = req.data.get("versions")
    if isinstance(raw, int | str):
        raw = [raw]
    if not raw or not isinstance(raw, list):
        return error(400, "no version number provided")
    try:
        return [int(v) for v in raw]
    except (TypeError, ValueError):
        return error(400, 'error converting input for field "versions"')


def _v2(engine: KVv2, req: Request, sub: str) -> Reply:
    section, _, path = sub.partition("/")
    op = req.op
    if section == "data" and sub.startswith("data/"):
        if op == "read":
            return _read(engine, req, path)
        if op in ("update", "patch"):
            return _write(engine, req, path)
        if op == "delete":
            engine.soft_delete(path)
            return no_content()
        return error(405, UNSUPPORTED)
    if section == "metadata" and sub.startswith("metadata/"):
        return _metadata(engine, req, path)
    if section in ("delete", "undelete", "destroy") and path and op == "update":
        versions = _versions(req)
        if isinstance(versions, Reply):
            return versions
        getattr(engine, "soft_delete" if section == "delete" else section)(path, versions)
        return no_content()
    if sub == "config":
        return _config(engine, req)
    warning = (
        "Invalid path for a versioned K/V secrets engine. See the API docs for the "
        "appropriate API endpoints to use. If using the Vault CLI, use 'vault kv "
        f"{_CLI_OP.get(op, 'get')}' for this operation."
    )
    return Reply(404, envelope(None, warnings=[warning], mount_type=""))


def _read(engine: KVv2, req: Request, path: str) -> Reply:
    try:
        version = int(req.data.get("version") or 0)
    except (TypeError, ValueError):
        return error(400, 'error converting input for field "version"')
    found = engine.read(path, version)
    if found is None:
        return error(404)
    entry, ver, number = found
    meta = version_metadata(entry, ver, number)
    if ver.destroyed or ver.is_deleted(now_ns()):
        return Reply(404, envelope({"data": None, "metadata": meta}, mount_type=""))
    return ok({"data": dict(ver.data or {}), "metadata": meta})


def _merge(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _write(engine: KVv2, req: Request, path: str) -> Reply:
    if not path:
        return error(400, "missing path")
    data = req.data.get("data")
    if not isinstance(data, dict):
        return error(400, "no data provided")
    options = req.data.get("options") or {}
    cas = options.get("cas") if isinstance(options, dict) else None
    try:
        cas = None if cas is None else int(cas)
        if req.op == "patch":
            if req.headers.get("content-type", "").split(";")[0] != "application/merge-patch+json":
                return error(415, "PATCH requires Content-Type application/merge-patch+json")
            current = engine.read(path)
            if current is None or current[1].data is None or current[1].is_deleted(now_ns()):
                return error(404)
            data = _merge(current[1].data, data)
        entry, number = engine.write(path, data, cas)
    except (TypeError, ValueError):
        return error(400, 'error converting input for field "cas"')
    except KVError as exc:
        return error(400, str(exc))
    return ok(version_metadata(entry, entry.versions[number], number))


def _metadata(engine: KVv2, req: Request, path: str) -> Reply:
    if req.op == "list":
        exclude = str(req.data.get("exclude_deleted", "")).lower() in ("1", "t", "true")
        keys = engine.list(path, exclude_deleted=exclude)
        return ok({"keys": keys}) if keys else error(404)
    path = path.strip("/")
    if req.op == "delete":
        engine.delete_metadata(path)
        return no_content()
    if req.op in ("update", "patch"):
        return _update_metadata(engine, req, path)
    entry = engine.get(path)
    if entry is None:
        return error(404)
    versions = {
        str(n): {
            "created_time": rfc3339(v.created_ns),
            "deletion_time": rfc3339(v.deleted_ns),
            "destroyed": v.destroyed,
        }
        for n, v in sorted(entry.versions.items())
    }
    return ok(
        {
            "cas_required": entry.cas_required,
            "created_time": rfc3339(entry.created_ns),
            "current_metadata_version": entry.metadata_version,
            "current_version": entry.current,
            "custom_metadata": entry.custom_metadata,
            "delete_version_after": go_duration(entry.delete_version_after),
            "max_versions": entry.max_versions,
            "metadata_cas_required": entry.metadata_cas_required,
            "oldest_version": entry.oldest,
            "updated_time": rfc3339(entry.updated_ns),
            "versions": versions,
        }
    )


def _update_metadata(engine: KVv2, req: Request, path: str) -> Reply:
    if not path:
        return error(400, "missing path")
    now = now_ns()
    entry = engine.entries.get(path) or Entry(created_ns=now, updated_ns=now)
    try:
        if "max_versions" in req.data:
            entry.max_versions = int(req.data["max_versions"])
        if "cas_required" in req.data:
            entry.cas_required = bool(req.data["cas_required"])
        if "metadata_cas_required" in req.data:
            entry.metadata_cas_required = bool(req.data["metadata_cas_required"])
        if "delete_version_after" in req.data:
            entry.delete_version_after = parse_duration(req.data["delete_version_after"])
        custom = req.data.get("custom_metadata")
        if custom is not None:
            if not isinstance(custom, dict):
                raise ValueError("custom_metadata")
            entry.custom_metadata = {str(k): str(v) for k, v in custom.items()}
    except (TypeError, ValueError):
        return error(400, "invalid request")
    entry.updated_ns = now
    entry.metadata_version += 1
    engine.entries[path] = entry
    return no_content()


def _config(engine: KVv2, req: Request) -> Reply:
    if req.op == "read":
        return ok(
            {
                "cas_required": engine.cas_required,
                "delete_version_after": go_duration(engine.delete_version_after),
                "max_versions": engine.max_versions,
            }
        )
    if req.op != "update":
        return error(405, UNSUPPORTED)
    try:
        engine.max_versions = int(req.data.get("max_versions", engine.max_versions))
        engine.cas_required = bool(req.data.get("cas_required", engine.cas_required))
        after = req.data.get("delete_version_after", engine.delete_version_after)
        engine.delete_version_after = parse_duration(after)
    except (TypeError, ValueError):
        return error(400, "invalid request")
    return no_content()
