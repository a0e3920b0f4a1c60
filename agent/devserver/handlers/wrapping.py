"""Response wrapping: ``X-Vault-Wrap-TTL`` on any answer, ``sys/wrapping/{wrap,unwrap,lookup}``.

A wrapped answer is kept whole under a single-use wrapping token that lives ``ttl`` seconds; the
client gets a ``wrap_info`` block instead. ``unwrap`` hands the kept answer out once (the token
in the ``X-Vault-Token`` header, or in the body for a caller with its own token) and forgets it.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from secrets_agent.devserver.tokens import random_id
from secrets_agent.devserver.wire import Reply, envelope, error, ok, parse_duration, rfc3339

if TYPE_CHECKING:
    from secrets_agent.devserver.state import VaultState
    from secrets_agent.devserver.wire import Request

NOT_VALID = "wrapping token is not valid or does not exist"
NEEDS_WRAPPING = "endpoint requires response wrapping to be used"
MAX_WRAP_SECONDS = 2764800.0


@dataclass(slots=True)
class Wrapped:
    """One wrapped answer and its wrapping token's facts."""

    payload: dict[str, Any]
    accessor: str
    created: float
    ttl: float
    path: str

    def info(self, token: str) -> dict[str, Any]:
        """The ``wrap_info`` block, in Vault's key order."""
        block: dict[str, Any] = {
            "token": token, "accessor": self.accessor, "ttl": int(self.ttl),
            "creation_time": rfc3339(int(self.created * 1e9)), "creation_path": self.path,
        }  # fmt: skip
        data, auth = self.payload.get("data"), self.payload.get("auth")
        inner = auth.get("accessor") if isinstance(auth, dict) else None
        if inner is None and isinstance(data, dict):
            inner = data.get("secret_id_accessor")
        if inner:
            block["wrapped_accessor"] = inner
        return block


def wrap_ttl(req: Request) -> float | Reply | None:
    """The requested wrapping TTL (None = not asked for, or 0), or an error reply."""
    raw = req.headers.get("x-vault-wrap-ttl")
    if raw is None or raw == "":
        return None
    try:
        ttl = parse_duration(raw)
    except ValueError:
        return error(400, f'error parsing X-Vault-Wrap-TTL header: time: invalid duration "{raw}"')
    if ttl > MAX_WRAP_SECONDS:
        return error(400, "wrapping ttl was greater than the maximum allowed")
    return ttl or None


def wrap(state: VaultState, req: Request, reply: Reply, ttl: float) -> Reply:
    """``reply`` kept under a new wrapping token, or ``reply`` itself if it is not wrappable."""
    payload = reply.payload
    if reply.status != 200 or not isinstance(payload, dict) or "request_id" not in payload:
        return reply
    if payload.get("data") is None and payload.get("auth") is None:
        return reply
    token = wrap_payload(state, payload, req.path.rstrip("/"), ttl)
    answer = envelope(None, mount_type=str(payload.get("mount_type", "")))
    answer["wrap_info"] = state.wrapped[token].info(token)
    return Reply(200, answer, reply.headers)


def wrap_payload(state: VaultState, payload: dict[str, Any], path: str, ttl: float) -> str:
    """Keep ``payload`` (an answer made at ``path``) for ``ttl`` seconds; its wrapping token."""
    token = state.tokens.prefix + random_id(24)
    state.wrapped[token] = Wrapped(payload, random_id(24), time.time(), ttl, path)
    return token


def _live(state: VaultState, token: str) -> Wrapped | None:
    kept = state.wrapped.get(token)
    if kept is not None and kept.created + kept.ttl <= time.time():
        del state.wrapped[token]
        return None
    return kept


def unwrap_own(state: VaultState, req: Request) -> Reply:
    """``sys/wrapping/unwrap`` authenticated by the wrapping token itself (no ``token`` body)."""
    if not req.token_id:
        return error(403, "error validating wrapping token: token is empty")
    return handle(state, req)


def is_wrapping_token(state: VaultState, token: str | None) -> bool:
    """Whether ``token`` is a live wrapping token (it may only unwrap or look itself up)."""
    return token is not None and _live(state, token) is not None


def handle(state: VaultState, req: Request) -> Reply:
    """``sys/wrapping/*``; ``req.token_id`` may be a wrapping token."""
    endpoint = req.path.rstrip("/")[len("sys/wrapping/") :]
    if req.op != "update":
        return error(405, "unsupported operation")
    if endpoint == "wrap":
        return error(400, NEEDS_WRAPPING)  # wrapped answers never reach here
    token = str(req.data.get("token") or req.token_id or "")
    kept = _live(state, token)
    if endpoint == "lookup":
        if kept is None:
            return error(400, NOT_VALID)
        data = {"creation_path": kept.path, "creation_time": rfc3339(int(kept.created * 1e9)),
                "creation_ttl": int(kept.ttl)}  # fmt: skip
        return ok(data, mount_type="system")
    if endpoint == "unwrap":
        if kept is None:
            return error(400, NOT_VALID)
        del state.wrapped[token]
        return Reply(200, {**kept.payload, "request_id": str(uuid.uuid4())})
    return error(404, "unsupported path")


def wrap_data(req: Request) -> Reply:
    """``sys/wrapping/wrap`` under a wrap TTL: the body becomes the answer's data."""
    return ok(dict(req.data), mount_type="system")
