"""Directories below a root descriptor: walked without ever following a symlink, and kept open.

* ``open_subdir``/``walk``: each segment is opened with ``O_DIRECTORY|O_NOFOLLOW`` relative to
  its parent's descriptor, so a symlink planted anywhere below the root (or a directory swapped
  for one mid-walk) makes the open fail instead of leading elsewhere. Missing directories are
  created with an exact mode; every directory opened must pass ``check_dir_stat`` (not group- or
  world-writable, owned by the agent or root), and one the agent owns is given the wanted mode
  (``apply_mode``) when it differs.
* ``DirCache``: opening every directory of a target afresh for each write (``open`` + ``fstat``
  + ``close`` per level) costs more than the write itself on tmpfs, so the descriptors of
  recently used directories are kept and re-validated on every use, one
  ``fstatat(..., AT_SYMLINK_NOFOLLOW)`` per level. A cached descriptor is used only if the name
  in its (just validated) parent is, right now, a directory with the same device and inode
  number, not a symlink, and still passes the same checks as a fresh open. The chain from the
  root down is therefore exactly what a fresh ``O_NOFOLLOW`` walk would have opened; an inode
  number cannot be reused while the cache holds the directory open. Anything else (gone,
  replaced, a symlink now, permissions changed) drops the entry and the level is opened afresh.
  At most ``limit`` descriptors are kept (least recently used go first), so thousands of
  targets cannot exhaust the process's descriptor limit. Not thread-safe: the writer's lock
  guards it.
"""

from __future__ import annotations

import errno
import os
import stat
from collections import OrderedDict
from collections.abc import Sequence

DEFAULT_LIMIT = 64
DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class UnsafePathError(Exception):
    """A path component is unsafe (symlink, not a directory, group- or world-writable,
    foreign-owned)."""


def check_dir_stat(st: os.stat_result, euid: int) -> str | None:
    """Why the directory with stat ``st`` is unsafe to write into, or ``None``."""
    if st.st_mode & stat.S_IWOTH:
        return "is world-writable"
    if st.st_mode & stat.S_IWGRP:
        return "is group-writable (a group member could replace the files in it)"
    if st.st_uid not in (euid, 0):
        return f"is owned by uid {st.st_uid}, not by the agent or root"
    return None


def apply_mode(fd: int, st: os.stat_result, mode: int, euid: int) -> None:
    """Give the open directory ``fd`` (stat ``st``) the permission bits ``mode`` if the agent
    (``euid``) owns it and they differ; setgid and sticky bits are kept."""
    if st.st_uid == euid and st.st_mode & 0o777 != mode:
        os.fchmod(fd, (stat.S_IMODE(st.st_mode) & ~0o777) | mode)


def open_subdir(
    parent: int, name: str, *, euid: int, create_mode: int | None, gid: int | None
) -> int:
    """Open directory ``name`` below ``parent``; create it with ``create_mode`` (exact, umask
    ignored; group ``gid`` if given) when missing and ``create_mode`` is not ``None``, and give
    an existing one the agent owns that mode.

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
        st = os.fstat(fd)
        problem = check_dir_stat(st, euid)
        if problem is not None:
            raise UnsafePathError(f"directory {name!r} {problem}")
        if create_mode is not None and not created:
            apply_mode(fd, st, create_mode, euid)
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


class DirCache:
    """Validated descriptors of directories below one root descriptor (see module docstring)."""

    def __init__(self, limit: int = DEFAULT_LIMIT) -> None:
        self.limit = limit
        self._entries: OrderedDict[tuple[str, ...], tuple[int, os.stat_result]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def open(
        self,
        root: int,
        root_stat: os.stat_result,
        dirs: Sequence[str],
        *,
        euid: int,
        create_mode: int | None,
        gid: int | None,
    ) -> tuple[int, os.stat_result]:
        """The descriptor and stat of ``root/dirs...``, walking without following symlinks.

        The descriptor belongs to the cache (do not close it; valid until the next ``trim`` or
        ``clear``). Raises ``UnsafePathError`` or ``OSError`` like ``walk``.
        """
        fd, st = root, root_stat
        key: tuple[str, ...] = ()
        for part in dirs:
            key = (*key, part)
            fd, st = self._level(fd, key, euid=euid, create_mode=create_mode, gid=gid)
        return fd, st

    def _level(
        self,
        parent: int,
        key: tuple[str, ...],
        *,
        euid: int,
        create_mode: int | None,
        gid: int | None,
    ) -> tuple[int, os.stat_result]:
        name = key[-1]
        cached = self._entries.get(key)
        if cached is not None:
            fd, old = cached
            try:
                now = os.stat(name, dir_fd=parent, follow_symlinks=False)
            except OSError:
                now = None
            if (
                now is not None
                and stat.S_ISDIR(now.st_mode)
                and (now.st_dev, now.st_ino) == (old.st_dev, old.st_ino)
            ):
                problem = check_dir_stat(now, euid)
                if problem is not None:
                    raise UnsafePathError(f"directory {name!r} {problem}")
                self._entries[key] = (fd, now)
                self._entries.move_to_end(key)
                return fd, now
            self._drop(key)
        fd = open_subdir(parent, name, euid=euid, create_mode=create_mode, gid=gid)
        try:
            st = os.fstat(fd)
        except BaseException:
            os.close(fd)
            raise
        self._entries[key] = (fd, st)
        return fd, st

    def _drop(self, key: tuple[str, ...]) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            os.close(entry[0])

    def forget(self, key: tuple[str, ...]) -> None:
        """Close the descriptors of directory ``key`` and of every directory below it."""
        for cached in [k for k in self._entries if k[: len(key)] == key]:
            self._drop(cached)

    def trim(self) -> None:
        """Close the least recently used descriptors beyond ``limit``."""
        while len(self._entries) > self.limit:
            _key, (fd, _st) = self._entries.popitem(last=False)
            os.close(fd)

    def clear(self) -> None:
        """Close every cached descriptor."""
        while self._entries:
            _key, (fd, _st) = self._entries.popitem()
            os.close(fd)
