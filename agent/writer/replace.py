"""One file in an open directory: atomically replaced, or left alone when already current.

* ``is_current``: the existing entry is a regular file with a single link and exactly the
  content, mode, owner and group the writer would give it (the skip-unchanged rule). A symlink,
  FIFO, socket, device or hard-linked file is never opened and never current.
* ``create_file``: ``O_CREAT|O_EXCL|O_NOFOLLOW``, ``fchmod`` to the exact mode (whatever the
  umask) and the owner set before the first byte, then the content; removed again on failure.
* ``replace_file``: the content goes to ``.tmp-<random>`` in the same directory, which is
  renamed over the name. Whatever non-directory is at the name is never opened or followed: the
  rename replaces that entry. A directory in the way is a ``WriteError``. With ``sync`` (not
  tmpfs/ramfs) the file and the directory are synced. Any failure removes the temp file and
  leaves the old file intact; the ``WriteError`` names the target and the errno text, never the
  content.
* ``replace_files``: several files of one directory, all or nothing. Every changed file is
  first staged as a temp file; a failure there (``ENOSPC`` on a full tmpfs, out of inodes)
  removes the staged ones and changes nothing. Only then are they renamed into place, one
  after the other; a rename over a name in the same directory needs no new space or inode, so
  a full file system cannot stop the set half way.
* ``exchange``: ``renameat2(RENAME_EXCHANGE)``, two names swap their inodes in one step (a file
  and a directory included), so a reader sees the old entry or the new one, never neither.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import logging
import os
import stat
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import cache

from secrets_agent.writer.errors import WriteError, why

log = logging.getLogger(__name__)

TEMP_PREFIX = ".tmp-"  # names of temporary files (the agent's own, removed at start)
CREATE_FLAGS = os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_WRONLY | os.O_CLOEXEC
RENAME_EXCHANGE = 2
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


@dataclass(frozen=True)
class FileRules:
    """What a written file must look like, and who writes it: ``mode``, the owner and group
    it gets (``None``: the writer's own), the writer's effective ids (``euid``/``egid``, for
    the skip-unchanged rule) and whether to ``fsync`` (not on tmpfs/ramfs)."""

    mode: int
    uid: int | None
    gid: int | None
    euid: int
    egid: int
    sync: bool


def temp_name() -> str:
    """A fresh temporary name (``O_EXCL`` makes a clash an error, never a reuse)."""
    return TEMP_PREFIX + os.urandom(6).hex()


def replace_file(
    dfd: int,
    dir_stat: os.stat_result,
    name: str,
    content: bytes,
    *,
    target: str,
    rules: FileRules,
) -> bool:
    """Make ``name`` in directory ``dfd`` hold ``content`` with ``mode`` and owner; return
    True if it changed. ``target`` is the path named in a ``WriteError``."""
    temp = stage_file(dfd, dir_stat, name, content, target=target, rules=rules)
    if temp is None:
        return False
    try:
        os.rename(temp, name, src_dir_fd=dfd, dst_dir_fd=dfd)
        if rules.sync:
            os.fsync(dfd)
    except OSError as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp, dir_fd=dfd)
        raise WriteError(target, why(exc), errno=exc.errno) from exc
    return True


def replace_files(
    dfd: int,
    dir_stat: os.stat_result,
    contents: Mapping[str, bytes],
    *,
    where: str,
    rules: FileRules,
) -> list[str]:
    """Make each ``name -> content`` of ``contents`` in directory ``dfd`` current, all or
    nothing (module docstring); return the names that changed. ``where`` (``"dir/"``) prefixes
    the names in a ``WriteError``, raised with every file as it was."""
    staged: list[tuple[str, str]] = []
    try:
        for name, content in contents.items():
            temp = stage_file(dfd, dir_stat, name, content, target=where + name, rules=rules)
            if temp is not None:
                staged.append((name, temp))
    except BaseException:
        _discard(dfd, (temp for _name, temp in staged))
        raise
    for index, (name, temp) in enumerate(staged):
        try:
            os.rename(temp, name, src_dir_fd=dfd, dst_dir_fd=dfd)
        except OSError as exc:
            _discard(dfd, (t for _n, t in staged[index:]))
            raise WriteError(where + name, why(exc), errno=exc.errno) from exc
    if rules.sync and staged:
        os.fsync(dfd)
    return [name for name, _temp in staged]


def _discard(dfd: int, temps: Iterable[str]) -> None:
    for temp in temps:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp, dir_fd=dfd)


def stage_file(
    dfd: int,
    dir_stat: os.stat_result,
    name: str,
    content: bytes,
    *,
    target: str,
    rules: FileRules,
) -> str | None:
    """The first half of a replace: ``None`` when ``name`` is already current, else the name
    of a new temp file in ``dfd`` holding ``content``. Raises ``WriteError`` (nothing left)."""
    try:
        if is_current(
            dfd,
            name,
            content,
            mode=rules.mode,
            uid=rules.uid,
            gid=rules.gid,
            euid=rules.euid,
            egid=rules.egid,
            dir_stat=dir_stat,
        ):
            return None
    except IsADirectoryError:
        raise WriteError(target, "a directory is in the way; refusing to replace it") from None
    except OSError as exc:
        raise WriteError(target, why(exc), errno=exc.errno) from exc
    temp = temp_name()
    try:
        create_file(
            dfd, temp, content, mode=rules.mode, uid=rules.uid, gid=rules.gid, sync=rules.sync
        )
    except OSError as exc:
        raise WriteError(target, why(exc), errno=exc.errno) from exc
    return temp


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

    Raises ``IsADirectoryError`` for a directory and ``OSError`` if the entry cannot be
    examined. ``egid`` and ``dir_stat`` (the stat of ``dfd``) save the system calls to look
    them up when the caller has them.
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
        size = 0
        while size <= len(content):
            chunk = os.read(fd, len(content) + 1 - size)
            if not chunk:
                break
            if chunk != content[size : size + len(chunk)]:
                return False  # differs already: no need to read on to the end
            size += len(chunk)
        return size == len(content)
    except OSError:
        return False
    finally:
        os.close(fd)


def own(fd: int, uid: int | None, gid: int | None) -> None:
    """``fchown`` the new file ``fd`` to ``uid``/``gid``, skipping ids it already has (a
    hardened unit's SystemCallFilter refuses chown; a new file already has the agent's ids)."""
    if uid is None and gid is None:
        return
    st = os.fstat(fd)
    want_uid = -1 if uid is None or uid == st.st_uid else uid
    want_gid = -1 if gid is None or gid == st.st_gid else gid
    if want_uid != -1 or want_gid != -1:
        os.fchown(fd, want_uid, want_gid)


def create_file(
    dfd: int,
    name: str,
    content: bytes,
    *,
    mode: int,
    uid: int | None,
    gid: int | None,
    sync: bool,
) -> None:
    """Create ``name`` (which must not exist) in ``dfd`` holding ``content``; on any failure
    remove it again and raise ``OSError``."""
    fd = os.open(name, CREATE_FLAGS, mode, dir_fd=dfd)
    try:
        try:
            os.fchmod(fd, mode)  # exact mode whatever the umask, before any byte
            own(fd, uid, gid)
            view = memoryview(content)
            while view:
                view = view[os.write(fd, view) :]
            if sync:
                os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name, dir_fd=dfd)
        raise


@cache
def _renameat2() -> Callable[[int, bytes, int, bytes, int], int] | None:
    try:
        func = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return None
    func.argtypes = (ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint)
    func.restype = ctypes.c_int
    return func


def exchange(dfd: int, first: str, second: str) -> None:
    """Atomically swap the entries ``first`` and ``second`` of directory ``dfd``.

    Raises ``OSError`` (``ENOSYS`` when the C library or the kernel lacks ``renameat2``,
    ``EINVAL`` when the file system cannot exchange).
    """
    func = _renameat2()
    if func is None:
        raise OSError(errno.ENOSYS, os.strerror(errno.ENOSYS))
    if func(dfd, os.fsencode(first), dfd, os.fsencode(second), RENAME_EXCHANGE) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
