"""RSS of a bare interpreter that imports what the running agent imported.

The agent daemon runs once with a few secrets under :mod:`benchkit.agent_modules`, which
records its ``sys.modules`` after the first sync; a fresh interpreter then imports the same
modules and nothing else (``agent_rss.py bare``). The difference between the agent's RSS and
this figure is what the agent's data and threads cost.
"""

from __future__ import annotations

import statistics
import sys
import time

from benchkit import agent_procs, procs
from benchkit.agent_configs import SecretsAgent
from benchkit.steady import Bench


def agent_modules_file(bench: Bench, count: int = 20) -> str:
    """Run the agent with ``count`` secrets and return the file listing its modules."""
    config, out = bench.prepare(SecretsAgent(), count, "300s", once=False)
    listing = out.parent / "modules.json"
    script = str(procs.HERE / "agent_modules.py")
    cmd = [sys.executable, script, str(listing), str(out), str(count), "run", "--config"]
    daemon = agent_procs.Daemon([*cmd, str(config)], out.parent / "log")
    try:
        deadline = time.monotonic() + 60
        while not listing.exists() and daemon.alive() and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        daemon.stop()
    if not listing.exists():
        raise RuntimeError("the agent did not record its modules")
    return str(listing)


def bare_rss_mib(bench: Bench, rounds: int = 3) -> tuple[float, int]:
    """Median VmRSS of ``rounds`` bare interpreters, and the number of modules imported."""
    listing = agent_modules_file(bench)
    values = [
        float(procs.run_json("agent_rss.py", "bare", listing)["rss_mib"]) for _ in range(rounds)
    ]
    with open(listing) as f:
        modules = f.read().count('"') // 2
    return statistics.median(values), modules
