"""Run the installed ``secrets-agent`` entry point and record the modules it imported.

Usage: ``agent_modules.py OUT.json DIR COUNT ARGS...``. The agent runs exactly as
``secrets-agent ARGS...`` would; a thread waits until DIR holds COUNT files (the first sync is
done and the daemon is scheduling), waits two more seconds, and writes the names in
``sys.modules`` to OUT.json. ``agent_rss.py bare OUT.json`` then measures a bare interpreter
that imports the same modules.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from importlib import metadata
from pathlib import Path


def count_files(directory: Path) -> int:
    try:
        return sum(1 for p in directory.iterdir() if not p.name.startswith("."))
    except FileNotFoundError:
        return 0


def record(out: Path, directory: Path, count: int) -> None:
    while count_files(directory) < count:
        time.sleep(0.1)
    time.sleep(2.0)
    names = [m for m in list(sys.modules) if m != "__main__" and not m.startswith("benchkit")]
    out.write_text(json.dumps(names))


def main() -> int:
    out, directory, count, *args = sys.argv[1:]
    (entry,) = metadata.entry_points(group="console_scripts", name="secrets-agent")
    watcher = threading.Thread(
        target=record, args=(Path(out), Path(directory), int(count)), daemon=True
    )
    watcher.start()
    sys.argv = ["secrets-agent", *args]
    code = entry.load()()
    return int(code or 0)


if __name__ == "__main__":
    sys.exit(main())
