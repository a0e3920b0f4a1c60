"""Replace one secret file on command, as the agent does, from a separate process.

Usage: ``python rotate_writer.py FILE``. For each line ``N`` on stdin it writes ``vN`` to a
temporary file in the same directory (O_CREAT|O_EXCL, mode 0400), then prints the
``CLOCK_MONOTONIC`` time in ns taken just before ``os.replace`` moves it over FILE. The reader
under test compares that timestamp with the moment it first sees the new value.
"""

from __future__ import annotations

import os
import sys
import time

FLAGS = os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC


def main() -> int:
    target = sys.argv[1]
    tmp = os.path.join(os.path.dirname(target), ".tmp-rotate")
    for line in sys.stdin:
        seq = line.strip()
        if not seq:
            continue
        fd = os.open(tmp, FLAGS, 0o400)
        try:
            os.write(fd, f"v{seq}".encode())
        finally:
            os.close(fd)
        stamp = time.monotonic_ns()
        os.replace(tmp, target)
        print(stamp, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
