"""Creating one new file the safe way, and swapping two directory entries atomically.

``create_file`` is the writer's first half of an atomic write: ``O_CREAT|O_EXCL|O_NOFOLLOW``
with the final mode, ``fchmod`` to the exact mode (whatever the umask) and the owner set before
the first byte, then the content. ``exchange`` is ``renameat2(RENAME_EXCHANGE)``: two names
swap their inodes in one step (a file and a directory included), so a reader sees either the
old entry or the new one, never neither.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
from collections.abc import Callable
from functools import cache

CREATE_FLAGS = os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_WRONLY | os.O_CLOEXEC
RENAME_EXCHANGE = 2


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
