"""What file system a directory lives on: ``fstatfs(2)`` magic numbers via ctypes.

Falls back to ``/proc/self/mountinfo`` when libc's ``fstatfs`` cannot be called.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from collections.abc import Callable
from functools import cache

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
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        func = libc.fstatfs
    except (OSError, AttributeError):
        return None
    func.argtypes = (ctypes.c_int, ctypes.c_void_p)
    func.restype = ctypes.c_int
    return func


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
