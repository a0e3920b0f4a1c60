"""Run the Vault-compatible dev server in its own process for the reader load benchmarks.

Started by :class:`benchkit.procs.ServerProcess` as ``python vault_load_proc.py``. Prints one
JSON line ``{"url": ..., "token": ...}`` when ready, then answers line commands on stdin:

- ``put PATH FIELD VALUE``: write a KV v2 secret with one field
- ``latency SECONDS``: delay every answer by that long (fault injection)
- ``count TEXT``: print how many requests since the last ``reset`` had TEXT in their path
- ``reset``: forget the requests served so far
- ``quit`` (or end of input): stop the server and exit
"""

from __future__ import annotations

import json
import sys


def main() -> int:
    from secrets_agent.devserver import VaultDevServer

    with VaultDevServer(host="127.0.0.1", port=0) as server:
        print(json.dumps({"url": server.url, "token": server.root_token}), flush=True)
        for line in sys.stdin:
            cmd = line.split()
            if not cmd:
                continue
            if cmd[0] == "put":
                server.put_secret(cmd[1], {cmd[2]: cmd[3]}, mount="secret")
                print("ok", flush=True)
            elif cmd[0] == "latency":
                server.set_latency(float(cmd[1]))
                print("ok", flush=True)
            elif cmd[0] == "count":
                print(sum(1 for _method, path in server.requests if cmd[1] in path), flush=True)
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
