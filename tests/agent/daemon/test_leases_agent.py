"""The whole agent on the manual scheduler (a fake clock) with a lease server that keeps time by
it: renewals at 2/3, the replacement before the max TTL, the old lease revoked only after the new
files are in place, a restart that renews the lease it finds, and one it cannot renew replaced."""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Sequence
from pathlib import Path

from fake_sources import agent_config, spec
from secrets_agent.daemon.agent import Agent
from secrets_agent.daemon.manual import ManualScheduler
from secrets_agent.notify import Notifier
from secrets_agent.sources.base import FetchResult, SourceBase
from secrets_agent.sources.result import SecretData
from secrets_agent.sources.vault.leases import LeaseGoneError, LeaseReply

TTL, MAX_TTL, MARGIN = 60.0, 300.0, 20.0


class LeaseServer(SourceBase):
    """A database engine in miniature: users with a lease of ``TTL`` s, at most ``MAX_TTL``."""

    name = "vault"
    batch_size = 1

    def __init__(self, clock: Callable[[], float], out: Path) -> None:
        self._clock = clock
        self._out = out
        self._ids = itertools.count(1)
        self.granted: dict[str, tuple[float, float]] = {}  # id -> (issued at, expires at)
        self.calls: list[tuple[str, str, float]] = []

    def fetch_many(self, paths: Sequence[str], *, version_stage: str | None = None) -> FetchResult:
        raise AssertionError("a leased secret is never read as KV")

    def leases(self) -> LeaseServer:
        """The lease operations (``VaultSource.leases``): this server itself."""
        return self

    def issue(
        self, path: str, method: str, data: Sequence[tuple[str, str]] = ()
    ) -> tuple[SecretData, LeaseReply]:
        now = self._clock()
        lease_id = f"{path}/{next(self._ids)}"
        self.granted[lease_id] = (now, now + TTL)
        self.calls.append(("issue", lease_id, now))
        user = lease_id.rsplit("/", 1)[1]
        fields = {"username": f"user-{user}", "password": f"pw-{user}"}
        return SecretData(fields=fields, raw=str(fields)), LeaseReply(lease_id, TTL, True)

    def renew(self, lease_id: str, increment: float) -> LeaseReply:
        now = self._clock()
        self.calls.append(("renew", lease_id, now))
        if lease_id not in self.granted or self.granted[lease_id][1] <= now:
            raise LeaseGoneError("lease not found")
        issued, _ = self.granted[lease_id]
        granted = min(increment, issued + MAX_TTL - now)
        self.granted[lease_id] = (issued, now + granted)
        return LeaseReply(lease_id, granted, True)

    def revoke(self, lease_id: str) -> None:
        user = (self._out / "db" / "username").read_text()
        self.calls.append(("revoke", lease_id, self._clock()))
        assert user != f"user-{lease_id.rsplit('/', 1)[1]}", "revoked while still in the files"
        self.granted.pop(lease_id, None)

    def valid(self, username: str, now: float) -> float:
        """Seconds the lease of ``username`` has left (negative: gone or expired)."""
        for lease_id, (_, expires) in self.granted.items():
            if f"user-{lease_id.rsplit('/', 1)[1]}" == username:
                return expires - now
        return -1.0


def _agent(out: Path, scheduler: ManualScheduler, server: LeaseServer) -> Agent:
    lease = spec(
        "database/creds/app", target="db", kind="lease", replace_margin=MARGIN, revoke_replaced=True
    )
    return Agent(
        agent_config(out, [lease]),
        source=server,
        notifier=Notifier(None),
        clock=scheduler.clock,
        rng=random.Random(1),
        scheduler=scheduler,
    )


def test_renewed_then_replaced_before_the_max_ttl(tmpfs_dir: Path) -> None:
    out = tmpfs_dir / "out"
    scheduler = ManualScheduler()
    server = LeaseServer(scheduler.clock, out)
    agent = _agent(out, scheduler, server)
    assert agent.sync_once().ok
    start = scheduler.now
    agent.start()
    try:
        for _ in range(int(2 * MAX_TTL)):  # a consumer looks once a second
            scheduler.advance(1.0)
            user = (out / "db" / "username").read_text()
            assert server.valid(user, scheduler.now) >= MARGIN / 2, "the file's credential ends"
    finally:
        agent.stop()
    kinds = [(kind, round(at - start)) for kind, _, at in server.calls]
    assert kinds[:5] == [("issue", 0), ("renew", 40), ("renew", 80), ("renew", 120), ("renew", 160)]
    replaced = next(at for kind, at in kinds[1:] if kind == "issue")
    assert MAX_TTL - MARGIN - 1 <= replaced <= MAX_TTL - MARGIN + 1
    revoked = [(lid, round(at - start)) for kind, lid, at in server.calls if kind == "revoke"]
    assert revoked[0] == ("database/creds/app/1", replaced)
    state = agent.states()[0]
    assert state.replace_at is not None and state.lease_expires_at is not None


def test_a_restart_renews_the_lease_it_finds_and_replaces_one_that_is_gone(
    tmpfs_dir: Path,
) -> None:
    out = tmpfs_dir / "out"
    scheduler = ManualScheduler()
    server = LeaseServer(scheduler.clock, out)
    first = _agent(out, scheduler, server)
    assert first.sync_once().ok
    first.stop()
    scheduler.advance(10.0)

    second = _agent(out, scheduler, server)
    assert second.sync_once().ok
    second.stop()
    assert [kind for kind, _, _ in server.calls] == ["issue", "renew"]
    assert (out / "db" / "username").read_text() == "user-1"

    server.granted.clear()  # the server forgot it (revoked, or expired while the agent was down)
    third = _agent(out, scheduler, server)
    assert third.sync_once().ok
    third.stop()
    assert [kind for kind, _, _ in server.calls] == ["issue", "renew", "renew", "issue"]
    assert (out / "db" / "username").read_text() == "user-2"
