"""Auth: tokens expiring or revoked mid-run, AppRole secret-id rotation; nothing is lost."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from fake_sources import agent_config, spec
from reliability_kit import record, snapshot
from secrets_agent.config.load import AuthConfig, VaultBackendConfig
from secrets_agent.daemon.agent import Agent
from secrets_agent.notify import Notifier
from secrets_agent.status import read_status

PATHS = ["app/db", "app/api"]


def _agent(vault: Any, out: Path, auth: AuthConfig) -> Agent:
    for p in PATHS:
        vault.put_secret(p, {"password": f"pw-{p}"})
    backend = VaultBackendConfig(address=vault.url, auth=auth, timeout=2.0)
    return Agent(
        agent_config(out, [spec(p, interval=60) for p in PATHS], backend=backend),
        notifier=Notifier(None),
    )


def _errors(out: Path) -> list[str]:
    return [str(e.get("last_error")) for e in read_status(out)["secrets"]]  # type: ignore[union-attr]


def test_token_auth_expired_or_revoked_keeps_files(vault: Any, tmpfs_dir: Path) -> None:
    """Token auth cannot log in again by itself: files stay, status says why, and a fixed
    token file is picked up without a restart."""
    out = tmpfs_dir / "out"
    token_file = tmpfs_dir / "token"
    token_file.write_text(vault.create_token(ttl=2, renewable=False))
    agent = _agent(vault, out, AuthConfig(method="token", token_file=token_file))
    tried = 0
    try:
        assert agent.sync_once().ok
        before = snapshot(out)
        time.sleep(2.3)  # the token expires
        report = agent.sync_once()
        tried += 1
        assert not report.ok
        assert snapshot(out) == before
        assert all("token" in e.lower() or "403" in e for e in _errors(out)), _errors(out)
        # An operator drops a fresh token into the file: the agent picks it up.
        token_file.write_text(vault.create_token())
        assert agent.sync_once().ok
        # Revoked mid-run: same story.
        vault.revoke_token(token_file.read_text())
        report = agent.sync_once()
        tried += 1
        assert not report.ok and snapshot(out) == before
        assert all(e != "None" for e in _errors(out))
        token_file.write_text(vault.create_token())
        assert agent.sync_once().ok
        assert snapshot(out) == before
    finally:
        agent.stop()
    record("auth: token expired / revoked (token auth)", tried=tried, lost=0, unit="events")


def test_approle_relogins(vault: Any, tmpfs_dir: Path) -> None:
    out = tmpfs_dir / "out"
    role_id, secret_id = vault.enable_approle(role="agent", token_ttl=2)
    secret_id_file = tmpfs_dir / "secret_id"
    secret_id_file.write_text(secret_id)
    auth = AuthConfig(method="approle", role_id=role_id, secret_id_file=secret_id_file)
    agent = _agent(vault, out, auth)
    events = 0
    try:
        assert agent.sync_once().ok
        before = snapshot(out)
        # 1. The token expires between refreshes: the next refresh logs in again.
        time.sleep(2.3)
        assert agent.sync_once().ok, _errors(out)
        events += 1
        # 2. The token is revoked behind the agent's back: "invalid token" -> login again.
        source: Any = agent._sources.get()  # the agent's own source
        vault.revoke_token(source.auth.token)
        assert agent.sync_once().ok, _errors(out)
        events += 1
        # 3. secret-id rotated: new one in the file, old one revoked, token revoked.
        new_id = vault.new_secret_id(role="agent")
        secret_id_file.write_text(new_id)
        vault.revoke_secret_id("agent", secret_id)
        vault.revoke_token(source.auth.token)
        assert agent.sync_once().ok, _errors(out)
        events += 1
        # 4. secret-id revoked and not replaced: fails cleanly, files kept, status says why.
        vault.revoke_secret_id("agent", new_id)
        vault.revoke_token(source.auth.token)
        assert not agent.sync_once().ok
        assert all("login" in e for e in _errors(out)), _errors(out)
        events += 1
        # ... and recovers once a valid one appears.
        secret_id_file.write_text(vault.new_secret_id(role="agent"))
        assert agent.sync_once().ok, _errors(out)
        assert snapshot(out) == before
    finally:
        agent.stop()
    record(
        "auth: approle expiry / revoked token / secret-id rotation",
        tried=events,
        lost=0,
        unit="events",
    )
