"""Opening a path inside a directory, with no way for the path to lead outside it.

``open_inside(directory, relative, flags)`` opens ``relative`` (``/``-separated, relative) inside
``directory``. ``directory`` itself is opened as a path (its own symlinks are followed: it is
trusted); below it, symlinks are followed only while they stay inside (Kubernetes ``..data``
layouts, aliases inside the tree). One that is absolute or climbs out with ``..`` raises
``OSError(EXDEV)``. Checking and opening are one step, so a component swapped for a symlink at
any moment cannot redirect the open outside.

Most trees hold no symlink, so each component is first opened with ``O_NOFOLLOW`` relative to
its parent's descriptor: plain ``open`` calls, the cheapest way there. Only when that meets a
symlink (``ELOOP``, or ``ENOTDIR`` for a parent) is the path resolved beneath a descriptor of
``directory``, by ``open_beneath``: the kernel's ``openat2`` with ``RESOLVE_BENEATH |
RESOLVE_NO_MAGICLINKS`` where it has it (Linux >= 5.6; called through ``ctypes``, imported on
first use), else ``walk_beneath`` (older kernels, seccomp filters answering ``ENOSYS``/``EPERM``,
other systems): every component opened with ``O_NOFOLLOW`` from its parent's descriptor, each
symlink read with ``readlink`` and its target walked the same way from the directory holding it,
``..`` answered from the descriptors the walk opened itself, never above the directory.

Imports: the standard library only.
"""

from __future__ import annotations

import errno
import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

# Linux's number for openat2 on the architectures sharing the common numbering of new system
# calls (``uname -m`` values); the others (alpha, mips) take the walk.
_SYS_OPENAT2 = 437
_COMMON_TABLE = frozenset(
    [
        "x86_64",
        "i386",
        "i686",
        "aarch64",
        "armv6l",
        "armv7l",
        "armv8l",
        "riscv64",
        "s390x",
        "ppc64",
        "ppc64le",
        "loongarch64",
    ]
)
_RESOLVE_NO_MAGICLINKS = 0x02
_RESOLVE_BENEATH = 0x08
_AT_FDCWD = -100
_NOT_AVAILABLE = frozenset((errno.ENOSYS, errno.EPERM, errno.EINVAL, errno.E2BIG))
_RETRIES = 4  # EAGAIN: a rename raced the kernel's check of ".."; then the walk decides
_MAX_LINKS = 40  # as the kernel's limit for one lookup
_DIR_FLAGS = os.O_DIRECTORY | os.O_CLOEXEC | os.O_NOFOLLOW | getattr(os, "O_PATH", os.O_RDONLY)
_BASE_FLAGS = os.O_DIRECTORY | os.O_CLOEXEC | getattr(os, "O_PATH", os.O_RDONLY)
_SYMLINK_MET = frozenset((errno.ELOOP, errno.ENOTDIR))  # O_NOFOLLOW on a file / on a parent

_openat2: Callable[[int, bytes, int], int] | None = None
_probed = False


def open_inside(directory: str, relative: str, flags: int) -> int:
    """Open ``relative`` inside ``directory`` (``""``: the working directory) with ``flags``.

    Raises ``OSError``: ``EXDEV`` when the path (through a symlink) leads outside, ``ELOOP``
    for too many symlinks, otherwise what opening the file raised.
    """
    try:
        return _open_plain(directory, relative, flags)
    except OSError as exc:
        if exc.errno not in _SYMLINK_MET:
            raise
    dir_fd = os.open(directory or ".", _BASE_FLAGS)
    try:
        return open_beneath(dir_fd, relative, flags)
    finally:
        os.close(dir_fd)


def _open_plain(directory: str, relative: str, flags: int) -> int:
    """Open ``relative`` following no symlink below ``directory``: ``ELOOP``/``ENOTDIR`` if one
    is met (or a parent is not a directory)."""
    prefix = f"{directory}/" if directory else ""
    if "/" not in relative:
        return os.open(prefix + relative, flags | os.O_NOFOLLOW)
    first, *parents, name = relative.split("/")
    dir_fd = os.open(prefix + first, _DIR_FLAGS)
    try:
        for part in parents:
            parent_fd = os.open(part, _DIR_FLAGS, dir_fd=dir_fd)
            os.close(dir_fd)
            dir_fd = parent_fd
        return os.open(name, flags | os.O_NOFOLLOW, dir_fd=dir_fd)
    finally:
        os.close(dir_fd)


def open_beneath(dir_fd: int, relative: str, flags: int) -> int:
    """Open ``relative`` beneath ``dir_fd`` with ``flags``; return the new descriptor.

    Raises ``OSError``: ``EXDEV`` when the path (through a symlink) leaves the directory,
    ``ELOOP`` for too many symlinks, otherwise what opening the file raised.
    """
    call = _openat2 if _probed else _probe()
    if call is not None:
        encoded = os.fsencode(relative)
        for _ in range(_RETRIES):
            fd = call(dir_fd, encoded, flags)
            if fd >= 0:
                return fd
            if -fd != errno.EAGAIN:
                raise OSError(-fd, os.strerror(-fd), relative)
    return walk_beneath(dir_fd, relative, flags)


def walk_beneath(dir_fd: int, relative: str, flags: int) -> int:
    """``open_beneath`` without ``openat2``: one ``O_NOFOLLOW`` open per component."""
    pending = relative.split("/")
    pending.reverse()  # the next component is last
    opened: list[int] = []  # descriptors of the directories walked into, innermost last
    current = dir_fd
    links = 0
    try:
        while pending:
            part = pending.pop()
            if part in ("", "."):
                continue
            if part == "..":
                if not opened:
                    raise OSError(errno.EXDEV, "leaves the directory", relative)
                os.close(opened.pop())
                current = opened[-1] if opened else dir_fd
                continue
            last = not pending
            try:
                fd = os.open(part, (flags | os.O_NOFOLLOW) if last else _DIR_FLAGS, dir_fd=current)
            except OSError as exc:
                if exc.errno not in (errno.ELOOP, errno.ENOTDIR):
                    raise
                target = _link_target(part, current, exc)
                links += 1
                if links > _MAX_LINKS:
                    raise OSError(errno.ELOOP, "too many symbolic links", relative) from None
                if target is None:  # was a symlink, is not any more: look again
                    pending.append(part)
                    continue
                if target.startswith("/"):
                    raise OSError(errno.EXDEV, "leaves the directory", relative) from None
                pending.extend(reversed(target.split("/")))
                continue
            if last:
                return fd
            opened.append(fd)
            current = fd
        # The path ended on a directory (a trailing "..", ".", or a symlink to one).
        return os.open(".", flags, dir_fd=current)
    finally:
        for fd in opened:
            os.close(fd)


def _link_target(name: str, dir_fd: int, failure: OSError) -> str | None:
    """The target of symlink ``name``; ``None`` if it stopped being one since ``failure``."""
    try:
        return os.readlink(name, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno != errno.EINVAL:
            raise
    if failure.errno == errno.ENOTDIR:
        raise failure  # a file where a directory was expected
    return None


def _probe() -> Callable[[int, bytes, int], int] | None:
    """Find out once whether ``openat2`` can be called; keep the caller if it can."""
    global _openat2, _probed
    call = _load() if sys.platform == "linux" and os.uname().machine in _COMMON_TABLE else None
    if call is not None:
        result = call(_AT_FDCWD, b".", _DIR_FLAGS)
        if result >= 0:
            os.close(result)
        elif -result in _NOT_AVAILABLE:
            call = None
    _openat2 = call
    _probed = True
    return call


def _load() -> Callable[[int, bytes, int], int] | None:
    import ctypes

    class OpenHow(ctypes.Structure):
        _fields_ = (
            ("flags", ctypes.c_uint64),
            ("mode", ctypes.c_uint64),
            ("resolve", ctypes.c_uint64),
        )

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        syscall = libc.syscall
    except (OSError, AttributeError):
        return None
    syscall.restype = ctypes.c_long
    # syscall(2) is variadic; on the architectures above its arguments travel in the same
    # registers as fixed ones, so they are declared as such (no conversion on each call).
    syscall.argtypes = (
        ctypes.c_long,
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_void_p,
        ctypes.c_size_t,
    )
    size = ctypes.sizeof(OpenHow)
    hows: list[OpenHow] = []  # kept alive: the kernel reads them through their addresses
    addresses: dict[int, int] = {}  # open flags -> address of their open_how
    get_errno = ctypes.get_errno

    def openat2(dir_fd: int, path: bytes, flags: int) -> int:
        """The new descriptor, or minus the errno."""
        address = addresses.get(flags)
        if address is None:
            how = OpenHow(flags, 0, _RESOLVE_BENEATH | _RESOLVE_NO_MAGICLINKS)
            hows.append(how)
            address = addresses.setdefault(flags, ctypes.addressof(how))
        fd: int = syscall(_SYS_OPENAT2, dir_fd, path, address, size)
        return fd if fd >= 0 else -get_errno()

    return openat2


__all__ = ["open_beneath", "open_inside", "walk_beneath"]
