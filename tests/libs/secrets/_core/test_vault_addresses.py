"""Which Vault node to ask, and when to move on to the next."""

from __future__ import annotations

import threading

import pytest
from libs.secrets._core.failures import Failure, transport_failure
from libs.secrets._core.vault_addresses import AddressRing, fails_over, split_addresses
from libs.secrets._core.vault_answers import classify


def test_split_addresses_keeps_order_and_drops_blanks_and_repeats() -> None:
    text = " https://a:8200/ ,https://b:8200,,https://a:8200, https://c:8200 "
    assert split_addresses(text) == ("https://a:8200", "https://b:8200", "https://c:8200")
    assert split_addresses("https://only:8200") == ("https://only:8200",)
    assert split_addresses(" , ") == ()


@pytest.mark.parametrize(
    ("failure", "moves"),
    [
        (transport_failure("refused"), True),
        (transport_failure("timeout", timed_out=True), True),
        (classify(503, ["Vault is sealed"]), True),
        (classify(500, ["local node not active but active cluster node not found"]), True),
        (classify(307), True),  # a standby's redirect to the active node
        (classify(429, retry_after=1.0), False),
        (classify(403, ["permission denied"]), False),
        (classify(404), False),
        (classify(400, ["invalid role or secret ID"], login=True), False),
    ],
)
def test_what_moves_on(failure: Failure, moves: bool) -> None:
    assert fails_over(failure) is moves


def test_the_ring_moves_once_per_failed_node_and_wraps() -> None:
    ring = AddressRing(["a", "b", "c"])
    assert ring.current == "a" and len(ring) == 3
    assert ring.move_on("a") == "b"
    assert ring.move_on("a") == "b"  # another thread saw a fail too: no second move
    assert ring.move_on("b") == "c"
    assert ring.move_on("c") == "a"


def test_racing_threads_move_the_ring_one_step() -> None:
    ring = AddressRing(["a", "b", "c"])
    barrier = threading.Barrier(8)

    def fail_a() -> None:
        barrier.wait()
        ring.move_on("a")

    threads = [threading.Thread(target=fail_a) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert ring.current == "b"


def test_an_empty_ring_is_refused() -> None:
    with pytest.raises(ValueError, match="no Vault address"):
        AddressRing([" ", ""])
