"""Is the file already on disk exactly what the writer would write? (skip-unchanged rule)"""

from __future__ import annotations

import logging
import os
import stat

log = logging.getLogger(__name__)

_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


def is_current(
    dfd: int,
    name: str,
    content: bytes,
    *,
    mode: int,
    uid: int | None,
    gid: int | None,
    euid: int,
    egid: int | None = None,
    dir_stat: os.stat_result | None = None,
) -> bool:
    """True if ``name`` in directory ``dfd`` is a single-link regular file with exactly
    ``content``, ``mode``, owner ``uid`` (default ``euid``) and group ``gid`` (default: what a new
    file would get: the directory's group if it is setgid, else the egid).

    A symlink, FIFO, socket, device or hard-linked file is never opened and counts as not
    current (the writer then replaces the entry). Raises ``IsADirectoryError`` for a directory
    and ``OSError`` if the entry cannot be examined. ``egid`` and ``dir_stat`` (the stat of
    ``dfd``) save the system calls to look them up when the caller has them.
    """
    try:
        st = os.stat(name, dir_fd=dfd, follow_symlinks=False)
    except FileNotFoundError:
        return False
    if stat.S_ISDIR(st.st_mode):
        raise IsADirectoryError(name)
    if not stat.S_ISREG(st.st_mode):
        log.warning("replacing a non-regular file (%s) without following it", name)
        return False
    if st.st_nlink != 1:
        log.warning("replacing %s, which has other hard links", name)
        return False
    if gid is None:
        parent = os.fstat(dfd) if dir_stat is None else dir_stat
        if parent.st_mode & stat.S_ISGID:
            gid = parent.st_gid
        else:
            gid = os.getegid() if egid is None else egid
    want = (mode, euid if uid is None else uid, gid, len(content))
    if (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, st.st_size) != want:
        return False
    return _same_bytes(dfd, name, st, content)


def _same_bytes(dfd: int, name: str, st: os.stat_result, content: bytes) -> bool:
    try:
        fd = os.open(name, _READ_FLAGS, dir_fd=dfd)
    except OSError:
        return False  # unreadable, or swapped meanwhile: rewrite it
    try:
        now = os.fstat(fd)
        if (now.st_ino, now.st_dev) != (st.st_ino, st.st_dev) or not stat.S_ISREG(now.st_mode):
            return False
        chunks: list[bytes] = []
        size = 0
        while size <= len(content):
            chunk = os.read(fd, len(content) + 1 - size)
            if not chunk:
                break
            if chunk != content[size : size + len(chunk)]:
                return False  # differs already: no need to read on to the end
            chunks.append(chunk)
            size += len(chunk)
        return size == len(content)
    except OSError:
        return False
    finally:
        os.close(fd)
