"""Request routing: method mapping, faults, seal, token and policy checks, then the handlers."""

from __future__ import annotations

import json

from secrets_agent.devserver.faults import Faults, failure_message
from secrets_agent.devserver.handlers import auth_methods, kv, system, wrapping
from secrets_agent.devserver.state import VaultState
from secrets_agent.devserver.wire import (
    NO_TOKEN,
    PERMISSION_DENIED,
    SEALED,
    Reply,
    Request,
    error,
    parse_bool,
)

METHODS = {"GET": "read", "HEAD": "read", "POST": "update", "PUT": "update",
           "DELETE": "delete", "LIST": "list", "PATCH": "patch"}  # fmt: skip
UNSEALED_PATHS = ("sys/health", "sys/seal-status", "sys/init", "sys/unseal")


def _token_id(headers: dict[str, str]) -> str | None:
    token = headers.get("x-vault-token")
    if token:
        return token
    bearer = headers.get("authorization", "")
    if bearer[:7].lower() == "bearer ":
        return bearer[7:].strip() or None
    return None


def _parse_body(req: Request) -> Reply | None:
    """Fill ``req.data`` from the JSON body (or the query for reads/deletes)."""
    if req.op in ("update", "patch"):
        if req.body.strip():
            try:
                data = json.loads(req.body)
            except (ValueError, UnicodeDecodeError):
                return error(400, "error parsing JSON")
            if not isinstance(data, dict):
                return error(400, "error parsing JSON")
            req.data = data
    else:
        req.data = {k: v for k, v in req.query.items() if k != "list"}
    return None


def dispatch(state: VaultState, faults: Faults, req: Request) -> Reply:
    """Answer one request the way the server's flavour (Vault or OpenBao) would."""
    return state.flavor.reword(req.path, _answer(state, faults, req))


def _answer(state: VaultState, faults: Faults, req: Request) -> Reply:
    op = METHODS.get(req.method)
    if op is None:
        return error(405)
    req.op = op
    if req.method == "GET" and "list" in req.query:
        try:
            if parse_bool(req.query["list"]):
                req.op = "list"
        except ValueError:
            return error(400)
    if req.op == "list" and not req.path.endswith("/"):
        req.path += "/"
    bad = _parse_body(req)
    if bad is not None:
        return bad
    ttl = wrapping.wrap_ttl(req)
    if isinstance(ttl, Reply):
        return ttl
    unsealed_path = req.path.rstrip("/") in UNSEALED_PATHS
    if not unsealed_path:
        failure = faults.take_failure()
        if failure is not None:
            status, retry_after = failure
            message = failure_message(status, req.path)
            headers = [("Retry-After", str(int(retry_after)))] if retry_after is not None else []
            return error(status, *([message] if message else []), headers=headers)
    if unsealed_path:
        return system.unauthenticated(state, req)
    with state.lock:
        if state.sealed:
            return error(503, SEALED)
        reply = _authenticated(state, faults, req, ttl is not None)
        return reply if ttl is None else wrapping.wrap(state, req, reply, ttl)


def _authenticated(state: VaultState, faults: Faults, req: Request, wrapped: bool) -> Reply:
    """Logins, then the token check (a wrapping token may only unwrap), then the handlers."""
    if auth_methods.is_login(state, req.path):
        return auth_methods.login(state, req)
    req.token_id = _token_id(req.headers)
    path = req.path.rstrip("/")
    if path.startswith("sys/wrapping/") and faults.is_denied(req.path, req.token_id):
        return error(403, PERMISSION_DENIED)
    if path == "sys/wrapping/lookup":
        return wrapping.handle(state, req)
    if path == "sys/wrapping/unwrap" and not req.data.get("token"):
        return wrapping.unwrap_own(state, req)
    if req.token_id is None:
        return error(403, NO_TOKEN)
    req.token = state.tokens.lookup(req.token_id)
    if req.token is None:
        if wrapping.is_wrapping_token(state, req.token_id):  # single use: spent on a refusal
            state.wrapped.pop(req.token_id, None)
            return error(403, PERMISSION_DENIED)
        return error(403, state.flavor.dead_token)
    if faults.is_denied(req.path, req.token_id) or not req.token.allows(req.path):
        return error(403, PERMISSION_DENIED)
    if path == "sys/wrapping/wrap" and wrapped:
        return wrapping.wrap_data(req)
    return _route(state, req)


def _route(state: VaultState, req: Request) -> Reply:
    if req.path.startswith("sys/wrapping/"):
        return wrapping.handle(state, req)
    if req.path.startswith("sys/"):
        return system.handle(state, req)
    if req.path.startswith("auth/"):
        return auth_methods.handle(state, req)
    found = state.find_mount(req.path)
    if found is None:
        route = req.path.rstrip("/")
        return error(404, f'no handler for route "{route}". route entry not found.')
    mount, engine = found
    return kv.handle(engine, req, req.path[len(mount) + 1 :])
