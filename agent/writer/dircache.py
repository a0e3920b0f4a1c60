"""Open directory descriptors below ``output_dir``, reused while the path still names them.

Opening every directory of a target afresh for each write (``open`` + ``fstat`` + ``close`` per
level, plus ``fstatfs`` for the root) costs more than the write itself on tmpfs. This cache keeps
the descriptors of recently used directories and re-validates them on every use, one
``fstatat(..., AT_SYMLINK_NOFOLLOW)`` per level:

* a cached descriptor is used only if the name in its (just validated) parent is, right now,
  a directory with the same device and inode number, not a symlink, and still passes the same
  checks as a fresh open (not world-writable, owned by the agent or root). The chain from the
  root down is therefore exactly what a fresh ``O_NOFOLLOW`` walk would have opened; an
  inode number cannot be reused while the cache holds the directory open;
* anything else (gone, replaced, a symlink now, permissions changed) drops the entry and the
  level is opened afresh through :func:`secrets_agent.writer.safedir.open_subdir` (which refuses
  symlinks and unsafe directories and creates missing ones).

At most ``limit`` descriptors are kept (least recently used go first), so thousands of targets
cannot exhaust the process's descriptor limit. Not thread-safe: the writer's lock guards it.
"""

from __future__ import annotations

import os
import stat
from collections import OrderedDict
from collections.abc import Sequence

from secrets_agent.writer.safedir import UnsafePathError, check_dir_stat, open_subdir

DEFAULT_LIMIT = 64


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
        ``clear``). Raises ``UnsafePathError`` or ``OSError`` like ``safedir.walk``.
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
