"""sd_notify against a real AF_UNIX datagram socket (path and abstract namespace)."""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from secrets_agent.notify import Notifier


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[tuple[str, socket.socket]]:
    path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(2)
    yield path, sock
    sock.close()


def _recv(sock: socket.socket) -> list[str]:
    return sock.recv(4096).decode().split("\n")


def test_messages_arrive_on_a_path_socket(receiver: tuple[str, socket.socket]) -> None:
    path, sock = receiver
    notifier = Notifier.from_environ({"NOTIFY_SOCKET": path})
    assert notifier.enabled
    assert notifier.ready("3/3 secrets fresh")
    assert _recv(sock) == ["READY=1", "STATUS=3/3 secrets fresh"]
    assert notifier.status("line one\nline two")
    assert _recv(sock) == ["STATUS=line one line two"]
    assert notifier.watchdog()
    assert _recv(sock) == ["WATCHDOG=1"]
    assert notifier.reloading()
    lines = _recv(sock)
    assert lines[0] == "RELOADING=1"
    assert lines[1].startswith("MONOTONIC_USEC=")
    assert int(lines[1].split("=", 1)[1]) > 0
    assert notifier.stopping()
    assert _recv(sock) == ["STOPPING=1"]
    notifier.close()


def test_abstract_namespace_socket() -> None:
    name = "secrets-agent-test-" + uuid.uuid4().hex
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0" + name)
    sock.settimeout(2)
    try:
        notifier = Notifier.from_environ({"NOTIFY_SOCKET": "@" + name})
        assert notifier.ready()
        assert _recv(sock) == ["READY=1"]
    finally:
        sock.close()


def test_silent_no_op_without_notify_socket() -> None:
    notifier = Notifier.from_environ({})
    assert not notifier.enabled
    assert notifier.ready() is False
    assert notifier.watchdog() is False
    assert notifier.watchdog_interval() is None


def test_unreachable_socket_is_not_an_error(tmp_path: Path) -> None:
    notifier = Notifier.from_environ({"NOTIFY_SOCKET": str(tmp_path / "absent.sock")})
    assert notifier.ready() is False


def test_watchdog_interval_is_half_of_watchdog_usec() -> None:
    env = {"NOTIFY_SOCKET": "/run/x", "WATCHDOG_USEC": "30000000"}
    assert Notifier.from_environ(env).watchdog_interval() == 15.0
    mine = dict(env, WATCHDOG_PID=str(os.getpid()))
    assert Notifier.from_environ(mine).watchdog_interval() == 15.0
    other = dict(env, WATCHDOG_PID=str(os.getpid() + 1))
    assert Notifier.from_environ(other).watchdog_interval() is None
    assert Notifier.from_environ(dict(env, WATCHDOG_USEC="junk")).watchdog_interval() is None


def test_a_receiver_that_stops_reading_does_not_block_the_sender(tmp_path: Path) -> None:
    path = str(tmp_path / "full.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    try:
        notifier = Notifier(path)
        assert notifier.status("first") is True
        started = time.monotonic()
        for i in range(5000):
            if not notifier.status(f"message {i}"):
                break  # the queue filled up: the message was dropped, not waited on forever
        else:
            pytest.fail("the receiver's queue never filled")
        assert time.monotonic() - started < 10
    finally:
        sock.close()
