"""The writer's handle on ``output_dir``: created, checked, its descriptor kept and re-checked.

``output_dir`` must be a real directory (not a symlink), neither group- nor world-writable,
owned by the agent's euid or root, and on tmpfs/ramfs unless ``allow_non_tmpfs``; when the agent
owns it, it gets ``dir_mode``. These are checked on the open directory descriptor at
``prepare()`` and again whenever the kept descriptor is used: one
``lstat`` of ``output_dir`` tells whether it still names that same safe directory, else it is
reopened and fully checked. Descriptors of subdirectories (``directories.DirCache``) live
and die with the root's.

The file system type comes from ``fstatfs(2)`` magic numbers (via ctypes), falling back to
``/proc/self/mountinfo`` when libc's ``fstatfs`` cannot be called.
"""

from __future__ import annotations

import ctypes
import errno
import logging
import os
import shutil
import stat
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import cast

from secrets_agent.libc import libc as c_library
from secrets_agent.writer.directories import DIR_FLAGS, DirCache, apply_mode, check_dir_stat
from secrets_agent.writer.errors import OutputDirError, why
from secrets_agent.writer.replace import TEMP_PREFIX

log = logging.getLogger(__name__)


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
            st = os.fstat(fd)
            problem = check_dir_stat(st, self._euid)
            if problem is not None:
                raise OutputDirError(f"{where}: {problem}; refusing to use it")
            self._check_fs(fd, where)
            apply_mode(fd, st, self.dir_mode, self._euid)
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
    """Remove ``.tmp-*`` files and directories (a set built aside, or an old set swapped out)
    left anywhere below ``root`` by an interrupted run; symlinks are never followed."""
    for _dirpath, dirs, files, dirfd in os.fwalk(".", dir_fd=root, follow_symlinks=False):
        for name in files:
            if name.startswith(TEMP_PREFIX):
                try:
                    os.unlink(name, dir_fd=dirfd)
                    log.info("removed stale temporary file %s", name)
                except FileNotFoundError:
                    pass
        for name in [d for d in dirs if d.startswith(TEMP_PREFIX)]:
            dirs.remove(name)  # not walked into: removed whole
            try:
                if stat.S_ISDIR(os.stat(name, dir_fd=dirfd, follow_symlinks=False).st_mode):
                    shutil.rmtree(name, dir_fd=dirfd)
                else:  # a symlink to a directory: removed, never followed
                    os.unlink(name, dir_fd=dirfd)
                log.info("removed stale temporary directory %s", name)
            except FileNotFoundError:
                pass
            except OSError as exc:
                log.warning("could not remove stale temporary directory %s: %s", name, why(exc))


# -- file system type --------------------------------------------------------------------------

TMPFS_MAGIC = 0x01021994
RAMFS_MAGIC = 0x858458F6
MEMORY_FS_MAGICS = {TMPFS_MAGIC: "tmpfs", RAMFS_MAGIC: "ramfs"}
_NAMES = {
    **MEMORY_FS_MAGICS,
    0xEF53: "ext2/ext3/ext4",
    0x58465342: "xfs",
    0x9123683E: "btrfs",
    0x794C7630: "overlayfs",
    0x6969: "nfs",
    0x65735546: "fuse",
    0x2FC12FC1: "zfs",
}
_NAME_TO_MAGIC = {"tmpfs": TMPFS_MAGIC, "ramfs": RAMFS_MAGIC}


@cache
def _fstatfs() -> Callable[[int, ctypes.Array[ctypes.c_char]], int] | None:
    func = getattr(c_library(), "fstatfs", None)
    if func is None:
        return None
    func.argtypes = (ctypes.c_int, ctypes.c_void_p)
    func.restype = ctypes.c_int
    return cast(Callable[[int, ctypes.Array[ctypes.c_char]], int], func)


def fs_magic(fd: int) -> int:
    """Return the ``f_type`` magic of the file system holding the open file ``fd``.

    Raises ``OSError`` when it cannot be determined.
    """
    func = _fstatfs()
    if func is None:
        return _magic_from_mountinfo(fd)
    buf = ctypes.create_string_buffer(512)  # struct statfs is 120 bytes on 64-bit Linux
    if func(fd, buf) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return ctypes.c_long.from_buffer(buf).value & 0xFFFFFFFF  # f_type is the first member


def fs_name(magic: int) -> str:
    """A readable name for a magic number (``"tmpfs"``, ``"ext2/ext3/ext4"``, ``"0x..."``)."""
    return _NAMES.get(magic, f"0x{magic:x}")


def is_memory_fs(fd: int) -> bool:
    """True if ``fd`` lives on tmpfs or ramfs."""
    return fs_magic(fd) in MEMORY_FS_MAGICS


def _mount_of(path: str) -> tuple[str, str] | None:
    """``(fstype, super options)`` of the mount holding ``path``, from mountinfo."""
    best: tuple[int, str, str] | None = None
    try:
        with open("/proc/self/mountinfo", encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except OSError:
        return None
    for line in lines:
        left, _, right = line.partition(" - ")
        fields, tail = left.split(), right.split()
        if len(fields) < 5 or len(tail) < 3:
            continue
        point = fields[4].replace("\\040", " ")
        inside = path == point or path.startswith(point.rstrip("/") + "/")
        if inside and (best is None or len(point) >= best[0]):
            best = (len(point), tail[0], tail[2])
    return (best[1], best[2]) if best else None


def _magic_from_mountinfo(fd: int) -> int:
    mount = _mount_of(os.path.realpath(f"/proc/self/fd/{fd}"))
    if mount is None:
        raise OSError("cannot determine the file system type")
    return _NAME_TO_MAGIC.get(mount[0], 0)


def swap_protected(path: str) -> bool | None:
    """True for ramfs or tmpfs mounted ``noswap``; False for swappable; None if unknown."""
    mount = _mount_of(os.path.realpath(path))
    if mount is None:
        return None
    fstype, options = mount
    if fstype == "ramfs":
        return True
    if fstype == "tmpfs":
        return "noswap" in options.split(",")
    return False
