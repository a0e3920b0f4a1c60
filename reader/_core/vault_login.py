"""Vault login and the token's lifetime, one implementation for the reader and the agent.

The hvac client is passed in (this module imports no vendor library): a ``LoginStrategy``
(``StaticToken``, ``AppRoleLogin``, ``KubernetesLogin``) obtains a token with it, and a
``TokenKeeper`` keeps one token alive for its callers:

* A token is renewed (``renew-self``) at two thirds of its TTL; one that is not renewable, or
  whose renewal is refused, is replaced by a fresh login at 90 % of its TTL or once it expired.
* Whether a token expires is read from the server: a login's ``lease_duration``, or a token
  lookup's ``expire_time`` (null only for a token that never expires; a ``ttl`` of 0 with an
  ``expire_time`` is a token in its last second, not a root token).
* A token that may not look itself up (no ``default`` policy) is accepted with an unknown TTL.
* A read refused with 401/403 may mean a dead token: OpenBao and Vault before 1.17 say only
  ``permission denied``. ``replace_refused`` lets the server decide by logging in again (or by
  re-reading a token file whose content changed), at most once every
  ``REFUSAL_RELOGIN_INTERVAL`` seconds, and tells the caller whether one retry is worth it.

Credential files are read at each login, so a rotated ``secret_id``, token file or projected
service-account token is picked up. Strategies raise the client's own exceptions (and
``CredentialFileError``); each side translates them into its own errors. Thread-safe.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, Protocol

from .credentials import CredentialFileError, read_credential_file

RENEW_FRACTION = 2 / 3  # renew-self at this fraction of the TTL
RELOGIN_FRACTION = 0.9  # a token that cannot be renewed is replaced at this fraction
MIN_LEAD = 1.0  # never schedule renewal work closer together than this
REFUSAL_RELOGIN_INTERVAL = 30.0  # at most one refusal-driven login per this many seconds


@dataclass(frozen=True)
class Lease:
    """A token's lifetime as the server stated it: ``ttl`` seconds (None: never expires, or
    unknown) and whether ``renew-self`` may extend it."""

    ttl: float | None
    renewable: bool


class Replacement(Enum):
    """What a new login would bring after ``token`` was refused."""

    NONE = "the same token again"
    CERTAIN = "another token (the credential changed)"
    POSSIBLE = "a fresh token from the same credentials"


class LoginStrategy(Protocol):
    """One way to obtain a token with an hvac client."""

    @property
    def method(self) -> str:
        """The auth method's name ("token", "approle", "kubernetes")."""
        ...

    def login(self, client: Any) -> tuple[str, Lease]:
        """Obtain a token (and set it on ``client``); raises the client's exceptions."""
        ...

    def replacement(self, token: str) -> Replacement:
        """What a new login would bring instead of ``token`` (a cheap check)."""
        ...


def _refused(exc: BaseException) -> bool:
    """hvac's 401/403 exceptions, recognised without importing hvac."""
    return type(exc).__name__ in ("Forbidden", "Unauthorized")


def _number(value: object) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def lease_of_login(block: object) -> Lease:
    """The ``Lease`` of a login or renewal answer's ``auth`` block."""
    auth: Mapping[str, Any] = block if isinstance(block, Mapping) else {}
    ttl = _number(auth.get("lease_duration"))
    return Lease(ttl if ttl is not None and ttl > 0 else None, bool(auth.get("renewable")))


def lease_of_lookup(data: object) -> Lease:
    """The ``Lease`` of a ``lookup-self`` answer's ``data``: ``expire_time`` decides whether
    the token expires, ``ttl`` (never below 0) how soon."""
    info: Mapping[str, Any] = data if isinstance(data, Mapping) else {}
    renewable = bool(info.get("renewable"))
    if not info.get("expire_time"):
        ttl = _number(info.get("ttl"))
        # No expire_time: a token that never expires (root, or a TTL of 0 by policy).
        return Lease(ttl if ttl is not None and ttl > 0 else None, renewable)
    return Lease(max(0.0, _number(info.get("ttl")) or 0.0), renewable)


def auth_mount(mount: str | None, default: str) -> str:
    """The auth method's mount path as hvac's ``mount_point`` wants it: ``"auth/approle-x"``,
    ``"/approle-x/"`` and ``"approle-x"`` all name the mount ``approle-x``."""
    name = (mount or "").strip("/")
    if name.startswith("auth/"):
        name = name[len("auth/") :].strip("/")
    return name or default


def _client_token(client: Any, response: object) -> tuple[str, Lease]:
    block = response.get("auth") if isinstance(response, Mapping) else None
    token = block.get("client_token") if isinstance(block, Mapping) else None
    if not isinstance(token, str) or not token:
        raise ValueError("Vault login answered without a client token")
    client.token = token
    return token, lease_of_login(block)


@dataclass(frozen=True)
class StaticToken:
    """A token given as such, or read from ``token_file`` at each login."""

    token: str | None = field(default=None, repr=False)
    token_file: Path | None = None
    method: str = "token"

    def login(self, client: Any) -> tuple[str, Lease]:
        token = self._current()
        client.token = token
        try:
            data = client.auth.token.lookup_self().get("data")
        except Exception as exc:
            if not _refused(exc):
                raise
            # A token without the default policy may not look itself up; reads decide.
            return token, Lease(None, False)
        return token, lease_of_lookup(data)

    def replacement(self, token: str) -> Replacement:
        if self.token is None and self._current() != token:
            return Replacement.CERTAIN
        return Replacement.NONE

    def _current(self) -> str:
        if self.token:
            return self.token
        if self.token_file is None:
            raise ValueError("no Vault token configured")
        return read_credential_file(self.token_file, "token")


@dataclass
class AppRoleLogin:
    """AppRole: ``role_id`` (or its file) and ``secret_id`` (or its file), at ``mount``.

    Without any ``secret_id`` only the role_id is sent (a role with ``bind_secret_id=false``).
    With ``secret_id_wrapped``, the configured secret_id is a response-wrapping token (the
    recommended way to deliver one): it is unwrapped once through ``sys/wrapping/unwrap``, the
    secret_id it held is kept in memory for later logins and the spent wrapping token is never
    sent again; a new wrapping token in the file is unwrapped when it appears. A refused token
    is replaced at once (``Replacement.CERTAIN``) when ``secret_id_file`` holds something new.
    """

    role_id: str | None = field(default=None, repr=False)
    role_id_file: Path | None = None
    secret_id: str | None = field(default=None, repr=False)
    secret_id_file: Path | None = None
    mount: str = "approle"
    secret_id_wrapped: bool = False
    method: str = "approle"
    _wrapping_token: str | None = field(default=None, repr=False, compare=False)
    _unwrapped: str | None = field(default=None, repr=False, compare=False)
    _file_content: str | None = field(default=None, repr=False, compare=False)

    def login(self, client: Any) -> tuple[str, Lease]:
        role_id = self.role_id
        if not role_id and self.role_id_file is not None:
            role_id = read_credential_file(self.role_id_file, "role_id")
        if not role_id:
            raise ValueError("no AppRole role_id configured")
        secret_id = self.secret_id
        if not secret_id and self.secret_id_file is not None:
            secret_id = self._file_content = read_credential_file(self.secret_id_file, "secret_id")
        if secret_id and self.secret_id_wrapped:
            secret_id = self._unwrap(client, secret_id)
        response = client.auth.approle.login(
            role_id=role_id, secret_id=secret_id, mount_point=auth_mount(self.mount, "approle")
        )
        return _client_token(client, response)

    def _unwrap(self, client: Any, wrapping_token: str) -> str:
        if wrapping_token != self._wrapping_token or self._unwrapped is None:
            client.token = wrapping_token  # the unwrap authenticates with the wrapping token
            answer = client.sys.unwrap()
            data = answer.get("data") if isinstance(answer, Mapping) else None
            unwrapped = data.get("secret_id") if isinstance(data, Mapping) else None
            if not isinstance(unwrapped, str) or not unwrapped:
                raise ValueError("the unwrapped response holds no secret_id")
            self._wrapping_token, self._unwrapped = wrapping_token, unwrapped
        return self._unwrapped

    def replacement(self, token: str) -> Replacement:
        if self.secret_id is None and self.secret_id_file is not None:
            try:
                content = read_credential_file(self.secret_id_file, "secret_id")
            except CredentialFileError:
                return Replacement.POSSIBLE  # the login will say what is wrong with the file
            if content != self._file_content:
                return Replacement.CERTAIN
        return Replacement.POSSIBLE


@dataclass(frozen=True)
class KubernetesLogin:
    """Kubernetes: ``role`` and the service-account token in ``jwt_file``, at ``mount``."""

    role: str
    jwt_file: Path
    mount: str = "kubernetes"
    method: str = "kubernetes"

    def login(self, client: Any) -> tuple[str, Lease]:
        jwt = read_credential_file(self.jwt_file, "service-account token")
        mount = auth_mount(self.mount, "kubernetes")
        response = client.auth.kubernetes.login(role=self.role, jwt=jwt, mount_point=mount)
        return _client_token(client, response)

    def replacement(self, token: str) -> Replacement:
        return Replacement.POSSIBLE


class TokenKeeper:
    """Logs ``client`` in with ``strategy`` and keeps its token alive; see the module docstring."""

    def __init__(
        self,
        client: Any,
        strategy: LoginStrategy,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.strategy = strategy
        self._clock = clock
        self._lock = threading.RLock()
        self._token: str | None = None
        self._expires_at: float | None = None  # None: never expires (or unknown)
        self._renew_at: float | None = None
        self._renewable = False
        self._last_refusal_login: float | None = None

    @property
    def token(self) -> str | None:
        """The current token (never logged)."""
        return self._token

    def expired(self) -> bool:
        """True when the current token's TTL has run out."""
        return self._expires_at is not None and self._clock() >= self._expires_at

    def seconds_until_due(self) -> float | None:
        """Seconds until the token needs renewing, or None when it never does."""
        with self._lock:
            if self._renew_at is None:
                return None
            return max(MIN_LEAD, self._renew_at - self._clock())

    def due(self) -> bool:
        """True if ``ensure`` has something to do: no token yet, or one due for renewal (a
        lock-free look for the path of every read; ``ensure`` decides under the lock)."""
        renew_at = self._renew_at
        return self._token is None or (renew_at is not None and self._clock() >= renew_at)

    def ensure(self) -> None:
        """Log in if there is no token yet, or renew / log in again if one is due."""
        with self._lock:
            if self._token is None:
                self.login()
            elif self._renew_at is not None and self._clock() >= self._renew_at:
                self.refresh()

    def login(self) -> None:
        """Obtain a new token with the strategy; raises what the strategy raises."""
        with self._lock:
            try:
                token, lease = self.strategy.login(self.client)
            except BaseException:
                self._token = None  # not logged in: the next call tries again
                raise
            self._token = token
            self._renewable = lease.renewable
            self._schedule(lease.ttl)

    def refresh(self) -> None:
        """Renew the token if it is renewable and not expired, else log in again.

        A renewal that fails for another reason than a refusal (the server is down) is raised
        while the token is still valid, and tried again a few seconds later.
        """
        with self._lock:
            if self._renewable and not self.expired():
                try:
                    response = self.client.auth.token.renew_self()
                except Exception as exc:
                    if not _refused(exc) and not self.expired():
                        self._renew_at = self._clock() + MIN_LEAD * 5
                        raise
                else:
                    lease = lease_of_login(response.get("auth"))
                    self._renewable = lease.renewable
                    self._schedule(lease.ttl)
                    return
            self.login()

    def replace_refused(self, token: str | None, *, said_invalid: bool = False) -> bool:
        """After a read with ``token`` was refused (401/403): put a new token in place when the
        server may have dropped this one. True when the caller should retry once.

        True without a login when another thread already replaced ``token``. A changed
        credential (a new token in the token file) is used at once; a new login with the same
        credentials happens at most once every ``REFUSAL_RELOGIN_INTERVAL`` seconds (so a
        policy refusal costs no more), unless the server said the token is invalid
        (``said_invalid``: current HashiCorp Vault's text, taken as evidence only when present).
        Raises what a login raises.
        """
        with self._lock:
            if self._token is not None and self._token != token:
                return True
            replacement = (
                Replacement.POSSIBLE if token is None else self.strategy.replacement(token)
            )
            if replacement is Replacement.NONE:
                return False
            if replacement is Replacement.POSSIBLE:
                now = self._clock()
                last = self._last_refusal_login
                recent = last is not None and now - last < REFUSAL_RELOGIN_INTERVAL
                if recent and not (said_invalid or self.expired()):
                    return False
                self._last_refusal_login = now
            self.login()
            return self._token != token

    def _schedule(self, ttl: float | None) -> None:
        now = self._clock()
        if ttl is None:
            self._expires_at = self._renew_at = None
            return
        self._expires_at = now + ttl
        fraction = RENEW_FRACTION if self._renewable else RELOGIN_FRACTION
        self._renew_at = now + max(min(MIN_LEAD, ttl / 2), ttl * fraction)


__all__ = [
    "MIN_LEAD",
    "REFUSAL_RELOGIN_INTERVAL",
    "AppRoleLogin",
    "KubernetesLogin",
    "Lease",
    "LoginStrategy",
    "Replacement",
    "StaticToken",
    "TokenKeeper",
    "auth_mount",
    "lease_of_login",
    "lease_of_lookup",
]
