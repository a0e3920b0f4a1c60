"""Fixtures for the Vault source's tests: a real OpenBao dev server for the session."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(scope="session")
def openbao(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A real OpenBao dev server (``tests/support/openbao_server.py``)."""
    from openbao_server import started_for_tests

    server = started_for_tests(tmp_path_factory, "openbao-agent")
    yield server
    server.stop()
