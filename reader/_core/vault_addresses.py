"""The addresses of a Vault (or OpenBao) cluster's nodes, and when to try the next one.

One rule for the reader and the agent. A cluster is given as several addresses (the agent's
``address = [...]``, the reader's ``VAULT_ADDR`` with commas). Requests go to the *current*
address: the one that answered last. A request that got no answer (connection refused or
reset, a timeout), a 5xx (sealed, an internal error, a standby that lost its active node) or
an answer only a standby gives (a redirect to the active node) is sent to the next address;
the node that then answers becomes the current one and stays so until it fails in turn (no
return to the first address: a node that worked keeps the traffic). A 429 (rate limit) is not
a reason to move: the server asked the caller to slow down, not to go elsewhere.

Tokens are cluster-wide, so a token obtained from one node is good on every other.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from .failures import Failure, FailureKind


def split_addresses(text: str) -> tuple[str, ...]:
    """The addresses in ``text`` separated by commas (``VAULT_ADDR`` style), trailing ``/``
    removed, empty items and repeats dropped, order kept."""
    return unique_addresses(part.strip() for part in text.split(","))


def unique_addresses(addresses: Iterable[str]) -> tuple[str, ...]:
    """``addresses`` without trailing ``/``, empty items and repeats, order kept."""
    cleaned = (address.strip().rstrip("/") for address in addresses)
    return tuple(dict.fromkeys(address for address in cleaned if address))


def fails_over(failure: Failure) -> bool:
    """Whether another node may answer where this one failed (see the module docstring)."""
    return failure.kind is FailureKind.UNAVAILABLE and failure.status != 429


class AddressRing:
    """The nodes' addresses with the current one; thread-safe.

    ``move_on(address)`` is a compare-and-set: when several threads see the same node fail,
    only the first moves the ring, and the others retry at the address it moved to.
    """

    def __init__(self, addresses: Iterable[str]) -> None:
        self.addresses = unique_addresses(addresses)
        if not self.addresses:
            raise ValueError("no Vault address")
        self._index = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.addresses)

    @property
    def current(self) -> str:
        """The address to send the next request to."""
        return self.addresses[self._index]

    def move_on(self, failed: str) -> str:
        """After ``failed`` did not answer: the address to try next (the current one when
        another thread already moved past ``failed``)."""
        with self._lock:
            if self.addresses[self._index] == failed:
                self._index = (self._index + 1) % len(self.addresses)
            return self.addresses[self._index]


__all__ = ["AddressRing", "fails_over", "split_addresses", "unique_addresses"]
