"""Atomically replace one file in an open directory, or leave it alone when already current.

* The write is skipped when the existing regular file (single link) already has the same
  content, mode, owner and group (:mod:`secrets_agent.writer.samefile`).
* Otherwise the content goes to ``.tmp-<random>`` in the same directory (created with the exact
  mode and owner before the first byte: :mod:`secrets_agent.writer.newfile`), which is renamed over
  the name. Whatever non-directory is at the name (symlink, FIFO, socket, device, hard-linked
  file) is never opened or followed: the rename replaces that entry. A directory in the way is
  a ``WriteError``.
* With ``sync`` (not tmpfs/ramfs) the file and the directory are synced.
* Any failure removes the temp file and leaves the old file intact; the ``WriteError`` names
  the target and the errno text, never the content.
"""

from __future__ import annotations

import contextlib
import os

from secrets_agent.writer.errors import WriteError, why
from secrets_agent.writer.newfile import create_file
from secrets_agent.writer.outdir import TEMP_PREFIX
from secrets_agent.writer.samefile import is_current


def replace_file(
    dfd: int,
    dir_stat: os.stat_result,
    name: str,
    content: bytes,
    *,
    target: str,
    mode: int,
    uid: int | None,
    gid: int | None,
    euid: int,
    egid: int,
    sync: bool,
) -> bool:
    """Make ``name`` in directory ``dfd`` hold ``content`` with ``mode`` and owner; return
    True if it changed. ``target`` is the path named in a ``WriteError``."""
    try:
        if is_current(
            dfd,
            name,
            content,
            mode=mode,
            uid=uid,
            gid=gid,
            euid=euid,
            egid=egid,
            dir_stat=dir_stat,
        ):
            return False
    except IsADirectoryError:
        raise WriteError(target, "a directory is in the way; refusing to replace it") from None
    except OSError as exc:
        raise WriteError(target, why(exc), errno=exc.errno) from exc
    temp = TEMP_PREFIX + os.urandom(6).hex()  # O_EXCL makes a clash an error, never a reuse
    try:
        create_file(dfd, temp, content, mode=mode, uid=uid, gid=gid, sync=sync)
    except OSError as exc:
        raise WriteError(target, why(exc), errno=exc.errno) from exc
    try:
        os.rename(temp, name, src_dir_fd=dfd, dst_dir_fd=dfd)
        if sync:
            os.fsync(dfd)
    except OSError as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp, dir_fd=dfd)
        raise WriteError(target, why(exc), errno=exc.errno) from exc
    return True
