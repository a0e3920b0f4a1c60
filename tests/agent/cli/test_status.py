"""``secrets-agent status`` in a subprocess: before and after a run, table and JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def test_status_before_and_after_a_run(
    vault: Any, tmp_path: Path, tmpfs_dir: Path, cli: Any, vault_config: Any
) -> None:
    vault.put_secret("a", {"k": "v"})
    config = vault_config(tmp_path / "c.toml", tmpfs_dir / "out", vault, '[[secrets]]\npath = "a"')
    assert cli("status", "--config", str(config)).returncode == 1
    assert cli("run", "--once", "--config", str(config)).returncode == 0
    table = cli("status", "--config", str(config))
    assert table.returncode == 0 and "a" in table.stdout
    as_json = cli("status", "--config", str(config), "--json")
    document = json.loads(as_json.stdout)
    assert document["secrets"][0]["target"] == "a"
    assert document["secrets"][0]["version"] == "1"


def test_status_exits_1_while_the_agent_is_unhealthy(
    vault: Any, tmp_path: Path, tmpfs_dir: Path, cli: Any, vault_config: Any
) -> None:
    """A health check can run ``secrets-agent status``: 1 (runtime failure) while UNHEALTHY."""
    vault.put_secret("a", {"k": "v"})
    secrets = '[[secrets]]\npath = "a"\n[[secrets]]\npath = "gone"'
    config = vault_config(tmp_path / "c.toml", tmpfs_dir / "out", vault, secrets)
    assert cli("run", "--once", "--config", str(config)).returncode == 1
    table = cli("status", "--config", str(config))
    assert table.returncode == 1 and "UNHEALTHY" in table.stdout
    as_json = cli("status", "--config", str(config), "--json")
    assert as_json.returncode == 1 and json.loads(as_json.stdout)["agent"]["healthy"] is False
    vault.put_secret("gone", {"k": "back"})
    assert cli("run", "--once", "--config", str(config)).returncode == 0
    assert cli("status", "--config", str(config)).returncode == 0
