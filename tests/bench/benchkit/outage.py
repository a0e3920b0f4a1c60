"""Recovery after an outage: seal the server under a running agent, unseal, time the catch-up.

The agent runs with a short interval; the server is sealed for longer than that interval (plus
its +10 % jitter), so every secret fell due while the server answered 503. After the unseal a
secret is *fresh again* at its first successful read (from the audit log). Reported: the time
from the unseal (the moment the unseal call returned) to the agent's first answered request,
and the median and the maximum over secrets of the time to fresh.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

from benchkit import audit
from benchkit.agent_configs import Side
from benchkit.steady import DATA_PREFIX, Bench


@dataclass(frozen=True)
class OutageResult:
    count: int
    interval_s: float
    sealed_s: float
    unseal_call_s: float
    first_request_s: float | None
    fresh: list[float]
    timeout_s: float

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
        first_request: float | None = None
        deadline = unsealed + timeout_s
        while len(first_read) < count and time.time() < deadline:
            time.sleep(0.5)
            answered, offset = bench.audit.responses(offset)
            mine = audit.by(answered, who, before)
            if mine and first_request is None:
                first_request = max(0.0, mine[0].time - unsealed)
            for r in audit.secret_reads(mine, DATA_PREFIX):
                first_read.setdefault(r.path, max(0.0, r.time - unsealed))
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
        fresh=sorted(first_read.values()),
        timeout_s=timeout_s,
    )
