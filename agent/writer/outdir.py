"""The writer's handle on ``output_dir``: created, checked, its descriptor kept and re-checked.

``output_dir`` must be a real directory (not a symlink), not world-writable, owned by the
agent's euid or root, and on tmpfs/ramfs unless ``allow_non_tmpfs``. These are checked on the
open directory descriptor at ``prepare()`` and again whenever the kept descriptor is used: one
``lstat`` of ``output_dir`` tells whether it still names that same safe directory, else it is
reopened and fully checked. Descriptors of subdirectories (:mod:`writer.dircache`) live
and die with the root's.
"""

from __future__ import annotations

import errno
import logging
import os
import stat
from pathlib import Path

from secrets_agent.writer.dircache import DirCache
from secrets_agent.writer.errors import OutputDirError, why
from secrets_agent.writer.fsinfo import MEMORY_FS_MAGICS, fs_magic, fs_name
from secrets_agent.writer.safedir import DIR_FLAGS, check_dir_fd, check_dir_stat

log = logging.getLogger(__name__)

TEMP_PREFIX = ".tmp-"  # names of temporary files (the agent's own, removed at start)


class OutputDir:
    """``output_dir`` as an open, checked directory descriptor. Not thread-safe: the writer
    serialises every call."""

    def __init__(self, path: Path, *, dir_mode: int, allow_non_tmpfs: bool, euid: int) -> None:
        self.path = path
        self.dir_mode = dir_mode
        self.allow_non_tmpfs = allow_non_tmpfs
        self.memory_fs = True  # known after the first open; False: files and dirs get fsync
        self.dirs = DirCache()
        self._euid = euid
        self._fd: int | None = None
        self._stat: os.stat_result | None = None

    def prepare(self) -> None:
        """Create ``output_dir`` if missing (its parent must exist and, unless
        ``allow_non_tmpfs``, be on tmpfs/ramfs: nothing is created otherwise), check it, keep
        it open, and remove stale ``.tmp-*`` files anywhere below it. Raises
        ``OutputDirError``."""
        self.close()
        self._create()
        fd = self._open()
        self._fd, self._stat = fd, os.fstat(fd)
        remove_stale_temps(fd)

    def descriptor(self) -> tuple[int, os.stat_result]:
        """The root descriptor and its stat: the kept one while ``output_dir`` still names that
        same safe directory, else a freshly opened and fully checked one (``OutputDirError``)."""
        fd, old = self._fd, self._stat
        if fd is not None and old is not None:
            try:
                st: os.stat_result | None = os.lstat(self.path)
            except OSError:
                st = None
            if (
                st is not None
                and stat.S_ISDIR(st.st_mode)
                and (st.st_dev, st.st_ino) == (old.st_dev, old.st_ino)
                and check_dir_stat(st, self._euid) is None
            ):
                self._stat = st
                return fd, st
            self.close()
        fd = self._open()
        self._fd, self._stat = fd, os.fstat(fd)
        return fd, self._stat

    def close(self) -> None:
        """Close the kept descriptors (reopened by the next ``descriptor()``)."""
        self.dirs.clear()
        fd, self._fd, self._stat = self._fd, None, None
        if fd is not None:
            os.close(fd)

    def _create(self) -> None:
        if os.path.lexists(self.path):
            return
        self._check_parent()  # refuse before creating anything
        try:
            self.path.mkdir(self.dir_mode)
        except FileExistsError:
            return
        except OSError as exc:
            raise OutputDirError(f"{self.path}: cannot create: {why(exc)}") from exc
        fd = self._open()
        try:
            os.fchmod(fd, self.dir_mode)  # mkdir's mode went through the umask
        finally:
            os.close(fd)

    def _check_parent(self) -> None:
        """Refuse a missing ``output_dir`` whose parent is not on tmpfs/ramfs, before mkdir."""
        try:
            fd = os.open(self.path.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError as exc:
            raise OutputDirError(f"{self.path}: cannot create: {why(exc)}") from None
        try:
            self._check_fs(fd, str(self.path))
        finally:
            os.close(fd)

    def _open(self) -> int:
        where = str(self.path)
        try:
            fd = os.open(self.path, DIR_FLAGS)
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.ENOTDIR) and self.path.is_symlink():
                raise OutputDirError(f"{where}: is a symlink; refusing to use it") from None
            raise OutputDirError(f"{where}: cannot open: {why(exc)}") from None
        try:
            problem = check_dir_fd(fd, self._euid)
            if problem is not None:
                raise OutputDirError(f"{where}: {problem}; refusing to use it")
            self._check_fs(fd, where)
        except BaseException:
            os.close(fd)
            raise
        return fd

    def _check_fs(self, fd: int, where: str) -> None:
        try:
            magic = fs_magic(fd)
        except OSError as exc:
            if self.allow_non_tmpfs:
                self.memory_fs = False
                return
            raise OutputDirError(f"{where}: cannot tell the file system type: {exc}") from None
        self.memory_fs = magic in MEMORY_FS_MAGICS
        if not self.memory_fs and not self.allow_non_tmpfs:
            raise OutputDirError(
                f"{where}: is on {fs_name(magic)}, not tmpfs or ramfs; secrets would reach the"
                " disk (set allow_non_tmpfs = true to accept that)"
            )


def remove_stale_temps(root: int) -> None:
    """Remove ``.tmp-*`` files left anywhere below ``root`` by an interrupted run."""
    for _dirpath, _dirs, files, dirfd in os.fwalk(".", dir_fd=root, follow_symlinks=False):
        for name in files:
            if name.startswith(TEMP_PREFIX):
                try:
                    os.unlink(name, dir_fd=dirfd)
                    log.info("removed stale temporary file %s", name)
                except FileNotFoundError:
                    pass
