"""A secret's entries as a whole: removing a file the agent wrote, and changing its shape.

``remove_file`` removes one regular file and the directories above it that it leaves empty;
anything else at that name (symlink, FIFO, directory, ...) is left alone with a warning. The path
is walked with ``O_NOFOLLOW`` one segment at a time (``directories.walk``), so a symlink planted
inside ``output_dir`` is never followed.

``switch`` changes a secret's shape without losing it. A ``fields`` secret whose backend value
changes from a plain string to a JSON object (or back) changes shape on disk: ``<target>`` the
file becomes ``<target>/`` the directory, or the reverse. ``switch`` does it safely:

1. the new shape is built completely under a fresh ``.tmp-*`` name next to the target (a file,
   or a directory with every field file; exact modes and owners, as any write);
2. the two entries are swapped in one step with ``renameat2(RENAME_EXCHANGE)``: readers see the
   old shape or the new one, never neither, and nothing is lost if step 1 fails;
3. the old entry, now under the temporary name, is removed: only the files the agent wrote
   (``old``); a directory that holds anything else is refused before step 1.

Where the kernel or file system cannot exchange (``ENOSYS``/``EINVAL``), step 2 falls back to
two renames (old entry aside to a temporary name, new one into place, the old one put back if
that fails): the target is then absent for the microseconds between the two renames.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import stat
from collections.abc import Collection, Mapping

from secrets_agent.writer.directories import DIR_FLAGS, UnsafePathError, close_all, walk
from secrets_agent.writer.errors import WriteError, why
from secrets_agent.writer.replace import create_file, exchange, temp_name

log = logging.getLogger(__name__)


class ShapeError(Exception):
    """The switch was refused or failed; the old entry is intact. No value in the message."""


def remove_entry(dfd: int, name: str, old_names: Collection[str]) -> None:
    """Remove file ``name``, or directory ``name`` with the files ``old_names`` in it."""
    st = os.stat(name, dir_fd=dfd, follow_symlinks=False)
    if not stat.S_ISDIR(st.st_mode):
        os.unlink(name, dir_fd=dfd)
        return
    fd = os.open(name, DIR_FLAGS, dir_fd=dfd)
    try:
        for child in old_names:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(child, dir_fd=fd)
    finally:
        os.close(fd)
    os.rmdir(name, dir_fd=dfd)


def build(
    dfd: int,
    temp: str,
    files: Mapping[str, bytes] | bytes,
    *,
    mode: int,
    dir_mode: int,
    uid: int | None,
    gid: int | None,
    sync: bool,
    dir_gid: int | None = None,
) -> None:
    """Create ``temp`` in ``dfd``: a file holding ``files`` (bytes), or a directory with
    ``dir_mode`` (setgid/sticky bits included) and group ``dir_gid`` (default ``gid``)
    holding one file per field. On failure nothing is left and ``OSError`` is raised."""
    if isinstance(files, bytes):
        create_file(dfd, temp, files, mode=mode, uid=uid, gid=gid, sync=sync)
        return
    os.mkdir(temp, dir_mode & 0o777, dir_fd=dfd)
    group = gid if dir_gid is None else dir_gid
    try:
        fd = os.open(temp, DIR_FLAGS, dir_fd=dfd)
        try:
            if group is not None and os.fstat(fd).st_gid != group:
                os.fchown(fd, -1, group)
            os.fchmod(fd, dir_mode)  # after the chown, which may clear a setgid bit
            for field, content in files.items():
                create_file(fd, field, content, mode=mode, uid=uid, gid=gid, sync=sync)
            if sync:
                os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        with contextlib.suppress(OSError):
            remove_entry(dfd, temp, list(files))
        raise


def switch(
    dfd: int,
    name: str,
    new: Mapping[str, bytes] | bytes,
    *,
    old: Collection[str],
    mode: int,
    dir_mode: int,
    uid: int | None,
    gid: int | None,
    sync: bool,
) -> None:
    """Replace entry ``name`` of directory ``dfd`` by ``new``: a file (``bytes``) or a
    directory of field files (name -> bytes). ``old`` are the names of the field files the
    agent wrote when the old entry is a directory. Raises ``ShapeError`` (old entry intact)."""
    try:
        st: os.stat_result | None = os.stat(name, dir_fd=dfd, follow_symlinks=False)
    except FileNotFoundError:
        st = None  # nothing to keep: build the new shape and rename it into place
    except OSError as exc:
        raise ShapeError(os.strerror(exc.errno or errno.EIO)) from None
    if st is None:
        pass
    elif stat.S_ISDIR(st.st_mode):
        fd = os.open(name, DIR_FLAGS, dir_fd=dfd)
        try:
            foreign = set(os.listdir(fd)) - set(old)  # noqa: PTH208 - a directory fd
        finally:
            os.close(fd)
        if foreign:
            raise ShapeError("the directory holds files the agent did not write; left in place")
    elif not stat.S_ISREG(st.st_mode):
        raise ShapeError("not a regular file or directory; left in place")
    temp = temp_name()
    kwargs = {"mode": mode, "dir_mode": dir_mode, "uid": uid, "gid": gid, "sync": sync}
    try:
        build(dfd, temp, new, **kwargs)  # type: ignore[arg-type]
    except OSError as exc:
        raise ShapeError(os.strerror(exc.errno or errno.EIO)) from None
    try:
        if st is None:
            os.rename(temp, name, src_dir_fd=dfd, dst_dir_fd=dfd)
            return
        swap(dfd, temp, name)
    except OSError as exc:
        with contextlib.suppress(OSError):
            remove_entry(dfd, temp, list(new) if not isinstance(new, bytes) else ())
        raise ShapeError(os.strerror(exc.errno or errno.EIO)) from None
    try:  # ``temp`` now names the old entry
        remove_entry(dfd, temp, old)
    except OSError as exc:
        log.warning("could not remove the old entry of a reshaped secret: %s", exc.strerror)
    if sync:
        os.fsync(dfd)


def swap(dfd: int, temp: str, name: str) -> None:
    """Exchange the entries ``temp`` and ``name`` of ``dfd``; afterwards ``temp`` names the
    old entry. Where the kernel cannot exchange: two renames (``name`` briefly absent).

    The kernel reports an exchange as two moves, the first-named entry's first. Watchers that
    track directories by name (watchdog's recursive inotify observer) follow it correctly only
    when the first-named entry is not a directory, so the file is named first here.
    """
    try:
        if stat.S_ISDIR(os.stat(temp, dir_fd=dfd, follow_symlinks=False).st_mode):
            exchange(dfd, name, temp)
        else:
            exchange(dfd, temp, name)
        return
    except OSError as exc:
        if exc.errno not in (errno.ENOSYS, errno.EINVAL, errno.EPERM):
            raise
    aside = temp_name()  # fallback: a brief window in which ``name`` is absent
    os.rename(name, aside, src_dir_fd=dfd, dst_dir_fd=dfd)
    try:
        os.rename(temp, name, src_dir_fd=dfd, dst_dir_fd=dfd)
    except OSError:
        os.rename(aside, name, src_dir_fd=dfd, dst_dir_fd=dfd)
        raise
    os.rename(aside, temp, src_dir_fd=dfd, dst_dir_fd=dfd)  # the caller removes ``temp``


def remove_file(root: int, relpath: str, *, euid: int) -> bool:
    """Remove the regular file ``relpath`` below the directory ``root``, then every directory
    above it left empty (up to, not including, ``root``). True if a file was removed; raises
    ``WriteError``. ``relpath`` must be valid (``paths.relpath_problem``)."""
    *dirs, name = relpath.split("/")
    try:
        fds = walk(root, dirs, euid=euid, create_mode=None, gid=None)
    except FileNotFoundError:
        return False
    except UnsafePathError as exc:
        raise WriteError(relpath, f"refusing: {exc}") from None
    except OSError as exc:
        raise WriteError(relpath, why(exc), errno=exc.errno) from exc
    try:
        removed = _unlink_regular(fds[-1], name, relpath)
        for parent, child in zip(reversed(fds[:-1]), reversed(dirs), strict=True):
            try:
                os.rmdir(child, dir_fd=parent)
            except OSError:
                break  # not empty (or gone): stop pruning
        return removed
    finally:
        close_all(fds)


def _unlink_regular(dfd: int, name: str, target: str) -> bool:
    try:
        st = os.stat(name, dir_fd=dfd, follow_symlinks=False)
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise WriteError(target, why(exc), errno=exc.errno) from exc
    if not stat.S_ISREG(st.st_mode):
        log.warning("%s: not a regular file; left in place", target)
        return False
    try:
        os.unlink(name, dir_fd=dfd)
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise WriteError(target, why(exc), errno=exc.errno) from exc
    return True
