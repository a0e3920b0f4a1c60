"""Leased reads from Vault: issue (any GET/POST that returns a lease or a certificate),
renew and revoke, through the source's logged-in hvac client.

``LeaseReply`` is what the server granted, in the server's terms (seconds, the certificate's
validity); ``daemon.leases`` turns it into the secret's lease state. Error texts name the path
(an API path, never a value); a renewal of a lease the server no longer knows raises
``LeaseGoneError`` so the daemon fetches a new one instead.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import hvac
from secrets_agent.sources.base import data_from_object
from secrets_agent.sources.result import InvalidResponseError, SecretData, SourceError
from secrets_agent.sources.vault.auth import VaultAuth
from secrets_agent.sources.vault.certinfo import CertificateError, validity
from secrets_agent.sources.vault.errors import is_invalid_token, map_vault_error

__all__ = ["LeaseGoneError", "LeaseReply", "VaultLeases"]


class LeaseGoneError(SourceError):
    """The server does not know the lease (expired, revoked, or another server's)."""

    retryable = False


@dataclass(frozen=True)
class LeaseReply:
    """A lease as granted: ``lease_id`` None when the answer had none (a certificate issued
    without a lease); ``not_before``/``not_after``: the certificate's validity, if any."""

    lease_id: str | None
    duration: float
    renewable: bool
    not_before: float | None = None
    not_after: float | None = None


class VaultLeases:
    """Issue, renew and revoke leases with a logged-in client (``VaultSource.leases``)."""

    def __init__(self, client: hvac.Client, auth: VaultAuth, address: str) -> None:
        self._client = client
        self._auth = auth
        self._address = address

    def issue(
        self, path: str, method: str, data: Sequence[tuple[str, str]] = ()
    ) -> tuple[SecretData, LeaseReply]:
        """Read ``path`` (``GET``, or ``POST`` with ``data`` as the JSON body)."""
        url = f"/v1/{path}"
        try:
            if method == "POST":
                answer = self._call(lambda: self._client.adapter.post(url, json=dict(data)))
            else:
                answer = self._call(lambda: self._client.adapter.get(url))
        except Exception as exc:
            raise map_vault_error(exc, path=path, action="reading", address=self._address) from None
        if not isinstance(answer, Mapping) or not isinstance(answer.get("data"), Mapping):
            raise InvalidResponseError(f"{path!r}: Vault answered without data", path=path)
        secret = data_from_object(_pem_lists(answer["data"]), path=path, version=None)
        return secret, _reply(answer, path)

    def renew(self, lease_id: str, increment: float) -> LeaseReply:
        """Extend ``lease_id`` by ``increment`` seconds (the server may grant less)."""
        try:
            answer = self._call(
                lambda: self._client.sys.renew_lease(lease_id=lease_id, increment=int(increment))
            )
        except hvac.exceptions.InvalidRequest as exc:
            raise LeaseGoneError(f"the lease cannot be renewed: {_first_error(exc)}") from None
        except Exception as exc:
            raise map_vault_error(exc, path=None, action="renewing a lease") from None
        if not isinstance(answer, Mapping):
            raise InvalidResponseError("Vault answered a lease renewal without a JSON body")
        return _reply(answer, None)

    def revoke(self, lease_id: str) -> None:
        """Revoke ``lease_id`` now (raises a ``SourceError`` on failure)."""
        try:
            self._call(lambda: self._client.sys.revoke_lease(lease_id=lease_id))
        except Exception as exc:
            raise map_vault_error(exc, path=None, action="revoking a lease") from None

    def _call(self, call: Callable[[], Any]) -> Any:
        """``call`` with a logged-in client; once more after a new login when the server
        refused a token it may have dropped (as KV reads do)."""
        self._auth.ensure()
        token = self._auth.token
        try:
            return call()
        except (hvac.exceptions.Forbidden, hvac.exceptions.Unauthorized) as exc:
            if not self._auth.replace_refused(token, said_invalid=is_invalid_token(exc)):
                raise
            return call()


def _reply(answer: Mapping[str, Any], path: str | None) -> LeaseReply:
    lease_id = answer.get("lease_id")
    duration = answer.get("lease_duration")
    if not isinstance(duration, int | float) or isinstance(duration, bool):
        duration = 0
    data = answer.get("data")
    not_before = not_after = None
    certificate = data.get("certificate") if isinstance(data, Mapping) else None
    if isinstance(certificate, str):
        try:
            not_before, not_after = validity(certificate)
        except CertificateError as exc:
            raise InvalidResponseError(f"{path!r}: {exc}", path=path) from None
    return LeaseReply(
        lease_id=lease_id if isinstance(lease_id, str) and lease_id else None,
        duration=float(duration),
        renewable=answer.get("renewable") is True,
        not_before=not_before,
        not_after=not_after,
    )


def _pem_lists(data: Mapping[str, Any]) -> dict[str, Any]:
    """A list of strings (PKI's ``ca_chain``: PEM certificates) becomes one text, one item a
    line, as a PEM bundle file holds them; every other value is kept."""
    return {
        key: "\n".join(value)
        if isinstance(value, list) and all(isinstance(v, str) for v in value)
        else value
        for key, value in data.items()
    }


def _first_error(exc: BaseException) -> str:
    errors = getattr(exc, "errors", None)
    if isinstance(errors, list) and errors:
        return " ".join(str(errors[0]).split())[:200]
    return type(exc).__name__
