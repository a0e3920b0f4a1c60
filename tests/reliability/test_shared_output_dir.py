"""Two agents with different configs share one output_dir (an init container and a sidecar):
real ``secrets-agent run --once`` processes against the dev server, run in turns. Neither may
remove the other's files; an edited config still prunes what it dropped."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from reliability_kit import agent_cmd, agent_env, record, vault_toml
from secrets_agent.devserver import VaultDevServer

INIT = ["init/db", "init/api"]
SIDECAR = ["side/cache", "side/queue"]


@pytest.fixture
def vault() -> Iterator[VaultDevServer]:
    with VaultDevServer() as server:
        for path in INIT + SIDECAR:
            server.put_secret(path, {"value": f"v-{path}"})
        yield server


def _config(path: Path, out: Path, vault: VaultDevServer, paths: list[str]) -> Path:
    auth = f'{{ method = "token", token = "{vault.root_token}" }}'
    path.write_text(vault_toml(out, vault.url, paths, auth=auth))
    path.chmod(0o600)
    return path


def _once(config: Path) -> str:
    done = subprocess.run(
        agent_cmd("run", "--once", "--config", str(config)),
        env=agent_env(),
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    return done.stderr.decode()


def _missing(out: Path, paths: list[str]) -> list[str]:
    return [
        p for p in paths if not (out / p / "value").is_file()
        or (out / p / "value").read_text() != f"v-{p}"
    ]  # fmt: skip


def test_two_configs_in_turns_lose_no_file(vault: VaultDevServer, tmpfs_dir: Path) -> None:
    out = tmpfs_dir / "out"
    init = _config(tmpfs_dir / "init.toml", out, vault, INIT)
    sidecar = _config(tmpfs_dir / "sidecar.toml", out, vault, SIDECAR)
    tried = lost = 0
    written: list[str] = []
    for _round in range(3):
        for config, paths in ((init, INIT), (sidecar, SIDECAR)):
            log = _once(config)
            written += [p for p in paths if p not in written]
            tried += len(written)
            lost += len(_missing(out, written))
            assert "its files are left alone" in log or (_round == 0 and config == init)
    record("shared output_dir: 2 configs, run --once in turns", tried=tried, lost=lost,
           unit="files", runs=6)  # fmt: skip
    assert lost == 0


def test_an_edited_config_prunes_only_what_it_dropped(
    vault: VaultDevServer, tmpfs_dir: Path
) -> None:
    out = tmpfs_dir / "out"
    init = _config(tmpfs_dir / "init.toml", out, vault, INIT)
    sidecar = _config(tmpfs_dir / "sidecar.toml", out, vault, SIDECAR)
    _once(sidecar)
    _once(init)
    _config(init, out, vault, INIT[:1])  # the same file, edited: init/api dropped
    log = _once(init)
    assert not (out / "init/api").exists()
    assert "removed init/api/value" in log
    assert _missing(out, INIT[:1] + SIDECAR) == []
    record("shared output_dir: edited config prunes its dropped target", tried=1,
           lost=len(_missing(out, INIT[:1] + SIDECAR)), unit="prunes", pruned=1)  # fmt: skip


def test_two_agents_writing_one_target_are_warned_about(
    vault: VaultDevServer, tmpfs_dir: Path
) -> None:
    out = tmpfs_dir / "out"
    init = _config(tmpfs_dir / "init.toml", out, vault, INIT)
    other = _config(tmpfs_dir / "other.toml", out, vault, [INIT[0], *SIDECAR])
    _once(init)
    log = _once(other)
    assert f"configured here and by the agent with config {init}: {INIT[0]}" in log
    assert _missing(out, INIT + SIDECAR) == []
