"""The ``[[secrets]]`` keys of ``kind = "lease"``: a Vault read that returns a lease or a
certificate (``database/creds/<role>``, ``aws/creds/<role>``, ``pki/issue/<role>``).

* ``kind``: ``"kv"`` (default) or ``"lease"`` (only with the vault backend); with ``"lease"`` the
  ``path`` is the API path below ``/v1/`` (no KV mount is added).
* ``method`` (``GET``/``POST``) and ``data`` (a table of strings, numbers or booleans, sent as the
  JSON body; only with ``POST``).
* ``renew_at``: the fraction of a lease's duration (of a certificate's validity) after which it
  is renewed (re-issued), strictly between 0 and 1.
* ``replace_margin``: how long before the end of a lease that cannot be extended any more its
  replacement is fetched; ``revoke_replaced``, ``revoke_on_stop``: what happens to old leases.
"""

from __future__ import annotations

from dataclasses import dataclass

from secrets_agent.config.schema import KINDS, METHODS
from secrets_agent.config.tables import Table, type_name

__all__ = ["LeaseKeys", "parse_lease_keys"]

_LEASE_ONLY = ("method", "data", "renew_at", "replace_margin", "revoke_replaced", "revoke_on_stop")


@dataclass(frozen=True)
class LeaseKeys:
    kind: str = "kv"
    method: str = "GET"
    data: tuple[tuple[str, str], ...] = ()
    renew_at: float = 2 / 3
    replace_margin: float = 30.0
    revoke_replaced: bool = False
    revoke_on_stop: bool = False


def parse_lease_keys(t: Table, backend_type: str | None) -> LeaseKeys:
    """Read the lease keys of one ``[[secrets]]`` entry (problems go to ``t``)."""
    kind = t.choice("kind", KINDS, "kv") or "kv"
    if kind != "lease":
        for name in _LEASE_ONLY:
            if t.has(name):
                t.problem(name, 'only used with kind = "lease"')
        return LeaseKeys()
    if backend_type is not None and backend_type != "vault":
        t.problem("kind", '"lease" is only used with the vault backend')
    method = t.choice("method", METHODS, "GET") or "GET"
    data = _data(t)
    if data and method != "POST":
        t.problem("data", 'only used with method = "POST"')
    renew_at = 2 / 3
    value = t.raw("renew_at")
    if value is not None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            t.problem("renew_at", f"must be a number, not {type_name(value)}")
        elif not 0.0 < float(value) < 1.0:
            t.problem("renew_at", "must be between 0 and 1 (a fraction of the lease's duration)")
        else:
            renew_at = float(value)
    margin = t.duration("replace_margin", 30.0, positive=False)
    if margin is not None and margin < 0:
        t.problem("replace_margin", "must not be negative")
        margin = 30.0
    return LeaseKeys(
        kind=kind,
        method=method,
        data=data,
        renew_at=renew_at,
        replace_margin=30.0 if margin is None else margin,
        revoke_replaced=t.boolean("revoke_replaced", False),
        revoke_on_stop=t.boolean("revoke_on_stop", False),
    )


def _data(t: Table) -> tuple[tuple[str, str], ...]:
    table = t.table("data")
    if table is None:
        return ()
    items: list[tuple[str, str]] = []
    for key, value in table.items():
        if isinstance(value, bool):
            items.append((key, "true" if value else "false"))
        elif isinstance(value, str | int | float):
            items.append((key, str(value)))
        else:
            t.problem(f"data.{key}", f"must be a string, number or boolean, not {type_name(value)}")
    return tuple(items)
