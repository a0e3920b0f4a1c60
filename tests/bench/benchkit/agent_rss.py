"""Resident memory of a fresh process: the agent holding N secrets, or a bare interpreter.

Usage (prints one JSON line):

- ``agent_rss.py agent URL TOKEN PREFIX N OUTDIR``: parse a config for N Vault secrets, run
  one full sync, start the background scheduler, wait a second, report VmRSS and the list of
  modules the process imported.
- ``agent_rss.py bare MODULES.json``: import the same modules (in the same order) and nothing
  else, then report VmRSS.
"""

from __future__ import annotations

import importlib
import json
import sys
import time
from pathlib import Path


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("VmRSS not found")


def agent_mode(url: str, token: str, prefix: str, count: int, out: str) -> dict[str, object]:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from benchkit import sync

    config = sync.parse(
        sync.vault_config_data(url, token, sync.vault_paths(prefix, count), Path(out))
    )
    start = time.perf_counter()
    agent, report = sync.agent_sync(config)
    sync_s = time.perf_counter() - start
    if not report.ok:
        raise SystemExit(f"sync failed for {len(report.failed)} secrets")
    started = True
    try:
        agent.start()
    except Exception as exc:
        print(f"start failed: {type(exc).__name__}", file=sys.stderr)
        started = False
    time.sleep(1.0)
    rss = rss_mib()
    modules = [m for m in sys.modules if m != "__main__" and not m.startswith("benchkit")]
    sync.close_agent(agent)
    return {"rss_mib": rss, "sync_s": sync_s, "started": started, "modules": modules}


def bare_mode(modules_file: str) -> dict[str, object]:
    failed = 0
    for name in json.loads(Path(modules_file).read_text()):
        if name in sys.modules:
            continue
        try:
            importlib.import_module(name)
        except Exception:
            failed += 1
    return {"rss_mib": rss_mib(), "import_failures": failed}


def main() -> int:
    mode = sys.argv[1]
    if mode == "agent":
        url, token, prefix, count, out = sys.argv[2:7]
        result = agent_mode(url, token, prefix, int(count), out)
    elif mode == "bare":
        result = bare_mode(sys.argv[2])
    else:
        raise SystemExit(f"unknown mode {mode!r}")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
