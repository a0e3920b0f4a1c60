"""``secrets-agent check`` in a subprocess: every config problem at once, each secret confirmed."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def test_check_reports_every_config_problem_and_writes_nothing(
    tmp_path: Path, tmpfs_dir: Path, canary: str, cli: Any
) -> None:
    out = tmpfs_dir / "out"
    config = tmp_path / "bad.toml"
    config.write_text(
        f"""
[agent]
output_dir = "{out}"
refresh_interval = "soon"
colour = "blue"
[backend]
type = "vault"
address = "http://127.0.0.1:9"
auth = {{ method = "token", token = "{canary}" }}
[[secrets]]
path = "a"
format = "yaml"
[[secrets]]
path = "b"
target = "../escape"
"""
    )
    for command in ("check", "run"):
        result = cli(command, "--config", str(config))
        assert result.returncode == 2, result.stderr
        for key in (
            "agent.refresh_interval",
            "agent.colour",
            "secrets[0].format",
            "secrets[1].target",
        ):
            assert key in result.stderr
        assert canary not in result.stderr + result.stdout
    assert not out.exists()


def test_check_confirms_each_secret_and_writes_nothing(
    vault: Any, tmp_path: Path, tmpfs_dir: Path, canary: str, cli: Any, vault_config: Any
) -> None:
    vault.put_secret("a", {"k": canary})
    out = tmpfs_dir / "out"
    secrets = '[[secrets]]\npath = "a"\n[[secrets]]\npath = "nope"\n'
    config = vault_config(tmp_path / "c.toml", out, vault, secrets)
    result = cli("--log-level", "debug", "check", "--config", str(config))
    assert result.returncode == 1
    assert "ok    a" in result.stdout and "FAIL  nope" in result.stdout
    assert canary not in result.stdout + result.stderr
    assert not out.exists()
    only_good = vault_config(tmp_path / "d.toml", out, vault, '[[secrets]]\npath = "a"')
    assert cli("check", "--config", str(only_good)).returncode == 0
    assert not out.exists()


def test_check_renders_each_template_output_and_writes_nothing(
    vault: Any, tmp_path: Path, tmpfs_dir: Path, canary: str, cli: Any, vault_config: Any
) -> None:
    vault.put_secret("db", {"password": canary})
    vault.put_secret("api", {"key": "k"})
    out = tmpfs_dir / "out"
    secrets = """
[[secrets]]
path = "db"
format = "none"
[[secrets]]
path = "api"
[[templates]]
target = "good.conf"
sources = { db = "db", api = "api" }
template = "{{ db.password }} {{ api.key }}"
[[templates]]
target = "bad.conf"
sources = { api = "api" }
template = "{{ api.secret }}"
"""
    config = vault_config(tmp_path / "c.toml", out, vault, secrets)
    result = cli("check", "--config", str(config))
    assert result.returncode == 1
    assert "ok    good.conf (template," in result.stdout
    assert (
        "FAIL  bad.conf (template): cannot render: template uses field 'secret' of source"
        " 'api', which that secret lacks" in result.stdout
    )
    assert canary not in result.stdout + result.stderr
    assert not out.exists()
