"""Run the Vault-compatible dev server in its own process for the sync benchmarks.

Started by :class:`benchkit.procs.ServerProcess` as ``python vault_proc.py``. Prints one JSON
line ``{"url": ..., "token": ...}`` when ready, then answers line commands on stdin:

- ``seed PREFIX N FIELDS``: put N KV v2 secrets ``PREFIX/s00000`` ... with FIELDS fields each
- ``count``: print the number of requests served since the last ``reset``
- ``reset``: zero the request counter
- ``quit`` (or end of input): stop the server and exit
"""

from __future__ import annotations

import json
import secrets
import sys


def seed(server: object, prefix: str, count: int, fields: int) -> None:
    """Write ``count`` secrets straight into the server's state."""
    put = server.put_secret  # type: ignore[attr-defined]
    for i in range(count):
        path = f"{prefix}/s{i:05d}"
        data = {f"field{j}": f"value-{i}-{j}-{secrets.token_hex(12)}" for j in range(fields)}
        put(path, data, mount="secret")


def main() -> int:
    from secrets_agent.devserver import VaultDevServer

    with VaultDevServer(host="127.0.0.1", port=0) as server:
        print(json.dumps({"url": server.url, "token": server.root_token}), flush=True)
        for line in sys.stdin:
            cmd = line.split()
            if not cmd:
                continue
            if cmd[0] == "seed":
                seed(server, cmd[1], int(cmd[2]), int(cmd[3]))
                print("ok", flush=True)
            elif cmd[0] == "count":
                print(server.request_count, flush=True)
            elif cmd[0] == "reset":
                server.reset_counters()
                print("ok", flush=True)
            elif cmd[0] == "quit":
                break
            else:
                print(f"error unknown command {cmd[0]!r}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
