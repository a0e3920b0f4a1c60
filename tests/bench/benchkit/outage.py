"""Recovery after an outage: seal the server under a running agent, unseal, time the catch-up.

The agent runs with a short interval; the server is sealed for longer than that interval (plus
its +10 % jitter), so every secret fell due while the server answered 503. After the unseal a
secret is *fresh again* at its first successful read (from the audit log), or, for an agent
that confirms unchanged secrets from a directory listing (``secrets-agent`` on OpenBao), when
its status file says it was confirmed (``fetched_at``) after a listing of its directory that
the server answered after the unseal. Reported: the time from the unseal (the moment the unseal
call returned) to the agent's first answered request, the median and the maximum over secrets
of the time to fresh, and how many of them were confirmed rather than read.
"""

from __future__ import annotations

import json
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

from benchkit import audit
from benchkit.agent_configs import Side
from benchkit.steady import DATA_PREFIX, LIST_PREFIX, Bench


@dataclass(frozen=True)
class OutageResult:
    count: int
    interval_s: float
    sealed_s: float
    unseal_call_s: float
    first_request_s: float | None
    fresh: list[float]
    timeout_s: float
    confirmed: int = 0  # of ``fresh``: confirmed from a listing, not read

    @property
    def missing(self) -> int:
        return self.count - len(self.fresh)

    @property
    def p50(self) -> float | None:
        return statistics.median(self.fresh) if self.fresh else None

    @property
    def last(self) -> float | None:
        return max(self.fresh) if self.fresh and not self.missing else None


def outage(
    bench: Bench, side: Side, count: int, interval_s: float, sealed_s: float, timeout_s: float
) -> OutageResult:
    """Run ``side`` with ``count`` secrets, seal for ``sealed_s``, unseal, wait up to
    ``timeout_s`` for every secret to be read again."""
    if sealed_s < 1.1 * interval_s:
        raise ValueError("seal for longer than 1.1 x the interval, so that every secret is due")
    who = f"token-{side.token_name}"
    daemon, out = bench.start(side, count, f"{interval_s:g}s")
    try:
        if daemon.wait_files(out, count, timeout=120 + count / 50) is None:
            raise RuntimeError(f"{side.name}: first sync of {count} secrets not done")
        time.sleep(min(interval_s, 5.0))
        bench.server.seal()
        sealed_at = time.monotonic()
        time.sleep(sealed_s)
        offset = bench.audit.offset()
        before = time.time()
        bench.server.unseal()
        unsealed = time.time()
        sealed = time.monotonic() - sealed_at
        first_read: dict[str, float] = {}
        first_listing: float | None = None  # seconds after the unseal
        confirmed: dict[str, float] = {}
        first_request: float | None = None
        deadline = unsealed + timeout_s
        while len(first_read.keys() | confirmed.keys()) < count and time.time() < deadline:
            time.sleep(0.5)
            answered, offset = bench.audit.responses(offset)
            mine = audit.by(answered, who, before)
            if mine and first_request is None:
                first_request = max(0.0, mine[0].time - unsealed)
            for r in audit.secret_reads(mine, DATA_PREFIX):
                first_read.setdefault(r.path.rpartition("/")[2], max(0.0, r.time - unsealed))
            if first_listing is None:
                listings = [r for r in mine if r.ok and r.path.startswith(LIST_PREFIX)]
                if listings:
                    first_listing = max(0.0, listings[0].time - unsealed)
            if first_listing is not None:
                confirmed = confirmed_after(out, unsealed + first_listing, unsealed)
    finally:
        daemon.stop()
        if bench.server.sealed():
            bench.server.unseal()
    return OutageResult(
        count=count,
        interval_s=interval_s,
        sealed_s=sealed,
        unseal_call_s=unsealed - before,
        first_request_s=first_request,
        fresh=sorted(earliest(first_read, confirmed).values()),
        timeout_s=timeout_s,
        confirmed=len(confirmed.keys() - first_read.keys()),
    )


def earliest(*times: dict[str, float]) -> dict[str, float]:
    """For every secret named in any of ``times``, the earliest of its times."""
    merged: dict[str, float] = {}
    for found in times:
        for name, at in found.items():
            merged[name] = min(at, merged.get(name, at))
    return merged


def confirmed_after(out: Path, listed_at: float, unsealed: float) -> dict[str, float]:
    """Secrets (by the name after the prefix) whose status entry says they were refreshed at
    or after ``listed_at`` (a listing answered after the unseal), with that time in seconds
    after ``unsealed``; empty for an agent that writes no status file."""
    try:
        entries = json.loads((out / ".status.json").read_text())["secrets"]
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    found: dict[str, float] = {}
    for entry in entries:
        fetched_at = entry.get("fetched_at")
        path = str(entry.get("path", ""))
        if isinstance(fetched_at, float) and fetched_at >= listed_at:
            found[path.rpartition("/")[2]] = fetched_at - unsealed
    return found
