"""Walking directories below a root descriptor without ever following a symlink.

Each segment is opened with ``O_DIRECTORY|O_NOFOLLOW`` relative to its parent's descriptor, so a
symlink planted anywhere below the root (or a directory swapped for one mid-walk) makes the open
fail instead of leading elsewhere.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Sequence

DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class UnsafePathError(Exception):
    """A path component is unsafe (symlink, not a directory, world-writable, foreign-owned)."""


def check_dir_fd(fd: int, euid: int) -> str | None:
    """Why the open directory ``fd`` is unsafe to write into, or ``None``."""
    return check_dir_stat(os.fstat(fd), euid)


def check_dir_stat(st: os.stat_result, euid: int) -> str | None:
    """Why the directory with stat ``st`` is unsafe to write into, or ``None``."""
    if st.st_mode & stat.S_IWOTH:
        return "is world-writable"
    if st.st_uid not in (euid, 0):
        return f"is owned by uid {st.st_uid}, not by the agent or root"
    return None


def open_subdir(
    parent: int, name: str, *, euid: int, create_mode: int | None, gid: int | None
) -> int:
    """Open directory ``name`` below ``parent``; create it with ``create_mode`` (exact, umask
    ignored; group ``gid`` if given) when missing and ``create_mode`` is not ``None``.

    Raises ``UnsafePathError`` for a symlink / non-directory / unsafe directory, ``OSError`` else
    (``FileNotFoundError`` when missing and not creating).
    """
    created = False
    try:
        fd = os.open(name, DIR_FLAGS, dir_fd=parent)
    except FileNotFoundError:
        if create_mode is None:
            raise
        try:
            os.mkdir(name, create_mode, dir_fd=parent)
            created = True
        except FileExistsError:
            pass  # another thread or process made it; open and check it below
        fd = _open_refusing_links(parent, name)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            raise UnsafePathError(f"{name!r} is a symlink or not a directory") from None
        raise
    try:
        if created:
            os.fchmod(fd, create_mode or 0o700)
            # Only when the group differs: chown is a privileged call that a hardened unit's
            # SystemCallFilter refuses, and a new directory often has the wanted group already.
            if gid is not None and os.fstat(fd).st_gid != gid:
                os.fchown(fd, -1, gid)
        problem = check_dir_fd(fd, euid)
        if problem is not None:
            raise UnsafePathError(f"directory {name!r} {problem}")
    except BaseException:
        os.close(fd)
        raise
    return fd


def _open_refusing_links(parent: int, name: str) -> int:
    try:
        return os.open(name, DIR_FLAGS, dir_fd=parent)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            raise UnsafePathError(f"{name!r} is a symlink or not a directory") from None
        raise


def walk(
    root: int, parts: Sequence[str], *, euid: int, create_mode: int | None, gid: int | None
) -> list[int]:
    """Open every directory of ``parts`` in turn; return ``[root, fd1, ..., fdN]``.

    On error every descriptor opened here is closed (``root`` never is).
    """
    fds = [root]
    try:
        for part in parts:
            fds.append(open_subdir(fds[-1], part, euid=euid, create_mode=create_mode, gid=gid))
    except BaseException:
        close_all(fds)
        raise
    return fds


def close_all(fds: Sequence[int]) -> None:
    """Close every descriptor of a ``walk`` result except the root (the first)."""
    for fd in fds[1:]:
        os.close(fd)
