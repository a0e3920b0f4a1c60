"""cProfile the hot paths the benchmarks flag, to check a fix before re-running the suite.

    .venv/bin/python tests/bench/profile_paths.py miss    # get_secret with TTL 0 on tmpfs
    .venv/bin/python tests/bench/profile_paths.py write   # SecretWriter.write, changing value
    .venv/bin/python tests/bench/profile_paths.py sync    # Agent.sync_once, 1,000 Vault secrets

``sync`` runs the agent with ``concurrency = 1`` so that cProfile (which sees only the calling
thread) sees the fetches too; the dev server runs in its own process. Prints the top functions
by own time. For the threaded agent, sample with py-spy instead:
``py-spy record --gil -f raw -o out.txt -- .venv/bin/python tests/bench/profile_paths.py sync``.
"""

from __future__ import annotations

import cProfile
import os
import pstats
import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def profile_miss(work: Path) -> cProfile.Profile:
    from libs.secrets import FileSecretManager

    (work / "alpaca").mkdir()
    (work / "alpaca" / "api_key_id").write_text("x" * 40)
    prof = cProfile.Profile()
    with FileSecretManager(str(work), ttl_seconds=0) as manager:
        get = manager.get_secret
        get("alpaca/api_key_id")
        prof.enable()
        for _ in range(20_000):
            get("alpaca/api_key_id")
        prof.disable()
    return prof


def profile_write(work: Path) -> cProfile.Profile:
    from secrets_agent.writer.writer import SecretWriter

    writer = SecretWriter(work / "out")
    writer.prepare()
    contents = (b"a" * 40, b"b" * 40)
    prof = cProfile.Profile()
    prof.enable()
    for i in range(20_000):
        writer.write("alpaca/key", contents[i & 1], mode=0o400)
    prof.disable()
    return prof


def profile_sync(work: Path) -> cProfile.Profile:
    sys.path.insert(0, str(HERE))
    from benchkit import procs, sync

    with procs.ServerProcess("vault_proc.py") as server:
        server.command("seed bench 1000 2")
        data = sync.vault_config_data(
            server.info["url"], server.info["token"], sync.vault_paths("bench", 1000), work / "o"
        )
        data["agent"]["concurrency"] = 1
        config = sync.parse(data)
        prof = cProfile.Profile()
        prof.enable()
        agent, report = sync.agent_sync(config)
        prof.disable()
        sync.close_agent(agent)
        print(f"sync ok={report.ok} written={report.written}")
    return prof


def main() -> int:
    targets = {"miss": profile_miss, "write": profile_write, "sync": profile_sync}
    if len(sys.argv) != 2 or sys.argv[1] not in targets:
        print(f"usage: {sys.argv[0]} {{{','.join(targets)}}}", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="bench-profile-", dir="/dev/shm"))
    os.chmod(work, 0o700)
    try:
        prof = targets[sys.argv[1]](work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    pstats.Stats(prof).sort_stats("tottime").print_stats(20)
    return 0


if __name__ == "__main__":
    sys.exit(main())
