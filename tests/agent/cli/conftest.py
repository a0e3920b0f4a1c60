"""Helpers of the CLI tests: run ``python -m secrets_agent`` and write a Vault config."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

CLI = Callable[..., subprocess.CompletedProcess[str]]


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = dict(os.environ)
    full_env.pop("NOTIFY_SOCKET", None)
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "secrets_agent", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=full_env,
    )


def _write_vault_config(path: Path, out: Path, vault: Any, secrets: str) -> Path:
    path.write_text(
        f"""
[agent]
output_dir = "{out}"
[backend]
type = "vault"
address = "{vault.url}"
auth = {{ method = "token", token = "{vault.root_token}" }}
{secrets}
"""
    )
    return path


@pytest.fixture
def cli() -> CLI:
    """``cli(*args, env=None)``: run the command line in a subprocess (no NOTIFY_SOCKET)."""
    return _cli


@pytest.fixture
def vault_config() -> Callable[[Path, Path, Any, str], Path]:
    """``vault_config(path, output_dir, vault, secrets_toml)``: a token-auth config file."""
    return _write_vault_config
