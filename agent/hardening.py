"""Process self-hardening: keep secrets out of core dumps and away from other users' debuggers.

``harden_process()`` is called once at agent start-up (every subcommand that handles secret
values). It is cheap, idempotent and never fatal: each step that the platform or a sandbox
refuses (a seccomp filter, a non-Linux system) is skipped with a debug log line.

What it does:

* ``prctl(PR_SET_DUMPABLE, 0)`` (Linux): no core dump is written for this process, and other
  processes of the same user can no longer ``ptrace`` it or read ``/proc/PID/mem``,
  ``/proc/PID/environ`` and friends (they become root-owned). The flag is reset by ``execve``,
  so commands the agent starts (``on_change`` hooks, the ``exec`` child) are unaffected.
* ``RLIMIT_CORE`` soft and hard limits to 0: a second guard against core files, also where
  ``PR_SET_DUMPABLE`` is unavailable. Unlike the dumpable flag this limit *is* inherited by
  child processes, which is intended: the ``exec`` child holds the same secrets.

``CHILD_ENVIRONMENT`` (plus ``LC_*``) is what every program the agent starts may inherit from
its environment: what a program needs to run, nothing the agent logs in with. ``exec`` adds a
few variables to it (``secrets_agent.cli.exec_env``).

Deliberately not done here, because it would change what child processes may do: the umask
(the unit sets ``UMask=0077``; the writer sets every mode explicitly), ``PR_SET_NO_NEW_PRIVS``
(``NoNewPrivileges=`` in the unit) and ``PR_SET_MDWE`` (``MemoryDenyWriteExecute=``).
"""

from __future__ import annotations

import ctypes
import logging
import sys

from secrets_agent.libc import libc as c_library

log = logging.getLogger(__name__)

CHILD_ENVIRONMENT = frozenset({"PATH", "HOME", "LANG", "LANGUAGE", "TZ", "USER", "LOGNAME", "TERM"})
CHILD_ENVIRONMENT_PREFIXES = ("LC_",)
PR_GET_DUMPABLE = 3
PR_SET_DUMPABLE = 4


def _prctl(option: int, arg: int = 0) -> int:
    """Call ``prctl(option, arg, 0, 0, 0)``; raises ``OSError`` on failure."""
    libc = c_library()
    if libc is None:
        raise OSError("libc is not available")
    prctl = libc.prctl
    prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    prctl.restype = ctypes.c_int
    result = int(prctl(option, arg, 0, 0, 0))
    if result < 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"prctl({option}) failed")
    return result


def set_non_dumpable() -> bool:
    """Mark this process non-dumpable (Linux). Returns ``True`` if the flag is now 0."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        _prctl(PR_SET_DUMPABLE, 0)
        return _prctl(PR_GET_DUMPABLE) == 0
    except OSError as exc:
        log.debug("prctl(PR_SET_DUMPABLE, 0) not applied: %s", exc)
        return False


def is_dumpable() -> bool | None:
    """The current ``PR_GET_DUMPABLE`` state, or ``None`` where it cannot be queried."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return _prctl(PR_GET_DUMPABLE) != 0
    except OSError:
        return None


def disable_core_dumps() -> bool:
    """Set ``RLIMIT_CORE`` to 0 (soft and hard). Returns ``True`` if the soft limit is now 0."""
    try:
        import resource
    except ImportError:  # not a POSIX system
        return False
    try:
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    except (OSError, ValueError) as exc:
        log.debug("RLIMIT_CORE not lowered: %s", exc)
    try:
        return resource.getrlimit(resource.RLIMIT_CORE)[0] == 0
    except OSError:
        return False


def harden_process() -> None:
    """Apply every cheap, safe self-protection this platform supports. Never raises."""
    dumpable_off = set_non_dumpable()
    core_off = disable_core_dumps()
    log.debug("process hardening: non-dumpable=%s, core limit 0=%s", dumpable_off, core_off)
