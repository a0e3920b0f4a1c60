"""Every exit code of ``secrets-agent``, in one place.

The daemon commands use the first three (DESIGN.md section 3); ``exec`` adds the shell's codes
for a command that cannot start and for a process killed by a signal.
"""

from __future__ import annotations

OK = 0
FAILURE = 1  # a runtime failure: a secret not written, the backend unreachable, ...
USAGE = 2  # bad options or an invalid config; nothing was written
NOT_EXECUTABLE = 126  # exec: the command exists but cannot be executed
NOT_FOUND = 127  # exec: the command was not found
SIGNAL_BASE = 128  # 128 + N: signal N ended the process (or arrived before the command started)
INTERRUPTED = SIGNAL_BASE + 2  # Ctrl-C (SIGINT) in a command that does not handle it itself


def killed_by(signum: int) -> int:
    """The shell's exit code of a process ended by signal ``signum``."""
    return SIGNAL_BASE + signum
