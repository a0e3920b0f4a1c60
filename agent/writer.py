"""Atomic, private, symlink-proof writes of secret files into ``output_dir``.

Rules (DESIGN section 3):

* ``output_dir`` must be a real directory (not a symlink), not world-writable, owned by the
  agent's euid or root, and on tmpfs/ramfs unless ``allow_non_tmpfs``. These are checked on the
  open directory descriptor at ``prepare()`` and again at every operation (the descriptor is
  kept; each operation calls ``lstat`` on ``output_dir`` and reopens it unless it is still the same
  safe directory).
* Every path below ``output_dir`` is walked one segment at a time with
  ``O_DIRECTORY|O_NOFOLLOW`` and ``dir_fd=``, so a symlink planted anywhere inside is never
  followed; descriptors of recently used directories are kept and re-validated per level
  (:mod:`secrets_agent.dircache`). Missing subdirectories are created with ``dir_mode`` (group
  set to the file's gid).
* A file is written to ``.tmp-<random>`` in its final directory, opened
  ``O_CREAT|O_EXCL|O_NOFOLLOW|O_WRONLY|O_CLOEXEC``; ``fchmod`` to the exact mode (the umask
  neither widens nor narrows it) and ``fchown`` (only when the new file's owner or group differs
  from the one requested: a hardened unit's SystemCallFilter refuses chown, and a file created
  by the agent already has its uid and gid) happen before the first byte, then the content is
  written and the temp file renamed over the target. On tmpfs/ramfs there is no ``fsync`` (no
  backing store; it would be a no-op); on other file systems the file and directory are synced.
* The write is skipped when the existing regular file (single link) already has the same
  content, mode, owner and group; it is read through ``O_NOFOLLOW|O_NONBLOCK``.
* Whatever non-directory is at the target (symlink, FIFO, socket, device, hard-linked file) is
  never opened or followed: the rename replaces that directory entry atomically. A directory in
  the way is a ``WriteError``.
* Any failure (ENOSPC, EDQUOT, EIO, ...) removes the temp file and leaves the old file intact;
  the ``WriteError`` names the target and the errno text, never the content.

Operations are serialised by one lock (each is microseconds on tmpfs), so concurrent writes to
different targets from a thread pool are safe.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import stat
import threading
from collections.abc import Collection, Mapping
from pathlib import Path

from secrets_agent import reshape
from secrets_agent.dircache import DirCache
from secrets_agent.fsinfo import MEMORY_FS_MAGICS, fs_magic, fs_name
from secrets_agent.newfile import create_file
from secrets_agent.relpaths import relpath_problem, segment_problem
from secrets_agent.safedir import (
    DIR_FLAGS,
    UnsafePathError,
    check_dir_fd,
    check_dir_stat,
    close_all,
    walk,
)
from secrets_agent.samefile import is_current

log = logging.getLogger(__name__)

TEMP_PREFIX = ".tmp-"
_VALID_CACHE = 4096  # relpaths known to be valid (a set, cleared when full)


class OutputDirError(Exception):
    """``output_dir`` is unusable (symlink, world-writable, wrong owner, not tmpfs, missing)."""


class WriteError(Exception):
    """One file could not be written or removed; the old file is intact."""

    def __init__(self, target: str, reason: str, *, errno: int | None = None) -> None:
        super().__init__(f"{target}: {reason}")
        self.target = target
        self.errno = errno


def _why(exc: OSError) -> str:
    return os.strerror(exc.errno) if exc.errno else str(exc)


class SecretWriter:
    """Writes files below ``output_dir`` following the rules in the module docstring."""

    def __init__(
        self, output_dir: Path, *, dir_mode: int = 0o700, allow_non_tmpfs: bool = False
    ) -> None:
        self.output_dir = Path(output_dir).absolute()  # never resolve(): no symlink following
        self.dir_mode = dir_mode
        self.allow_non_tmpfs = allow_non_tmpfs
        self._lock = threading.Lock()
        self._euid = os.geteuid()
        self._egid = os.getegid()
        self._memory_fs = True
        self._root_fd: int | None = None
        self._root_stat: os.stat_result | None = None
        self._dirs = DirCache()
        self._valid: set[str] = set()

    def close(self) -> None:
        """Close the kept directory descriptors (they are reopened by the next operation)."""
        with self._lock:
            self._close_root()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self._close_root()

    # -- output_dir ------------------------------------------------------------------------

    def prepare(self) -> None:
        """Create ``output_dir`` if missing (its parent must exist and, unless
        ``allow_non_tmpfs``, be on tmpfs/ramfs: nothing is created otherwise), validate it, and
        remove stale ``.tmp-*`` files anywhere below it. Raises ``OutputDirError``."""
        with self._lock:
            self._close_root()
            self._create_root()
            root = self._open_root()
            self._root_fd, self._root_stat = root, os.fstat(root)
            self._remove_stale_temps(root)

    def _create_root(self) -> None:
        if os.path.lexists(self.output_dir):
            return
        self._check_parent()  # refuse before creating anything
        try:
            self.output_dir.mkdir(self.dir_mode)
        except FileExistsError:
            return
        except OSError as exc:
            raise OutputDirError(f"{self.output_dir}: cannot create: {_why(exc)}") from exc
        fd = self._open_root()
        try:
            os.fchmod(fd, self.dir_mode)
        finally:
            os.close(fd)

    def _check_parent(self) -> None:
        """Refuse a missing ``output_dir`` whose parent is not on tmpfs/ramfs, before mkdir."""
        parent = self.output_dir.parent
        try:
            fd = os.open(parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError as exc:
            raise OutputDirError(f"{self.output_dir}: cannot create: {_why(exc)}") from None
        try:
            self._check_fs(fd, str(self.output_dir))
        finally:
            os.close(fd)

    def _open_root(self) -> int:
        where = str(self.output_dir)
        try:
            fd = os.open(self.output_dir, DIR_FLAGS)
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.ENOTDIR) and self.output_dir.is_symlink():
                raise OutputDirError(f"{where}: is a symlink; refusing to use it") from None
            raise OutputDirError(f"{where}: cannot open: {_why(exc)}") from None
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
                self._memory_fs = False
                return
            raise OutputDirError(f"{where}: cannot tell the file system type: {exc}") from None
        self._memory_fs = magic in MEMORY_FS_MAGICS
        if not self._memory_fs and not self.allow_non_tmpfs:
            raise OutputDirError(
                f"{where}: is on {fs_name(magic)}, not tmpfs or ramfs; secrets would reach the"
                " disk (set allow_non_tmpfs = true to accept that)"
            )

    def _remove_stale_temps(self, root: int) -> None:
        for _dirpath, _dirs, files, dirfd in os.fwalk(".", dir_fd=root, follow_symlinks=False):
            for name in files:
                if name.startswith(TEMP_PREFIX):
                    try:
                        os.unlink(name, dir_fd=dirfd)
                        log.info("removed stale temporary file %s", name)
                    except FileNotFoundError:
                        pass

    def _close_root(self) -> None:
        self._dirs.clear()
        fd, self._root_fd, self._root_stat = self._root_fd, None, None
        if fd is not None:
            os.close(fd)

    def _root_for(self, target: str) -> tuple[int, os.stat_result]:
        """The root descriptor and its stat: the kept one while ``output_dir`` still names that
        same safe directory (one ``lstat``), else a freshly opened and fully checked one."""
        fd, old = self._root_fd, self._root_stat
        if fd is not None and old is not None:
            try:
                st: os.stat_result | None = os.lstat(self.output_dir)
            except OSError:
                st = None
            if (
                st is not None
                and stat.S_ISDIR(st.st_mode)
                and (st.st_dev, st.st_ino) == (old.st_dev, old.st_ino)
                and check_dir_stat(st, self._euid) is None
            ):
                self._root_stat = st
                return fd, st
            self._close_root()
        try:
            fd = self._open_root()
        except OutputDirError as exc:
            raise WriteError(target, f"output directory unusable: {exc}") from None
        self._root_fd, self._root_stat = fd, os.fstat(fd)
        return fd, self._root_stat

    # -- writing ---------------------------------------------------------------------------

    def write(
        self,
        relpath: str,
        content: bytes,
        *,
        mode: int,
        uid: int | None = None,
        gid: int | None = None,
    ) -> bool:
        """Atomically make ``<output_dir>/<relpath>`` hold ``content`` with ``mode``/owner.

        Returns True if the file changed, False if it was already identical. Raises
        ``WriteError`` (old file intact, no temp file left) and ``ValueError`` for an invalid
        ``relpath`` or ``mode``.
        """
        if relpath not in self._valid:
            problem = relpath_problem(relpath)
            if problem is not None:
                raise ValueError(f"invalid target path: {problem}")
            if len(self._valid) >= _VALID_CACHE:
                self._valid.clear()
            self._valid.add(relpath)
        if not 0 <= mode <= 0o777:
            raise ValueError("mode must be between 0 and 0o777")
        *dirs, name = relpath.split("/")
        with self._lock:
            try:
                root, root_stat = self._root_for(relpath)
                try:
                    dfd, dir_stat = self._dirs.open(
                        root, root_stat, dirs, euid=self._euid, create_mode=self.dir_mode, gid=gid
                    )
                except UnsafePathError as exc:
                    raise WriteError(relpath, f"refusing: {exc}") from None
                except OSError as exc:
                    raise WriteError(relpath, _why(exc), errno=exc.errno) from exc
                return self._replace(dfd, dir_stat, name, relpath, content, mode, uid, gid)
            finally:
                self._dirs.trim()

    def write_dotfile(self, name: str, content: bytes, *, mode: int = 0o600) -> None:
        """Atomically write one of the agent's own files (``.status.json``) in ``output_dir``."""
        bare = name[1:] if name.startswith(".") else ""
        if not bare or name.startswith(TEMP_PREFIX) or segment_problem(bare) is not None:
            raise ValueError("a dot file name is '.' followed by one valid path segment")
        with self._lock:
            root, root_stat = self._root_for(name)
            self._replace(root, root_stat, name, name, content, mode, None, None)

    def _replace(
        self,
        dfd: int,
        dir_stat: os.stat_result,
        name: str,
        target: str,
        content: bytes,
        mode: int,
        uid: int | None,
        gid: int | None,
    ) -> bool:
        try:
            if is_current(
                dfd,
                name,
                content,
                mode=mode,
                uid=uid,
                gid=gid,
                euid=self._euid,
                egid=self._egid,
                dir_stat=dir_stat,
            ):
                return False
        except IsADirectoryError:
            raise WriteError(target, "a directory is in the way; refusing to replace it") from None
        except OSError as exc:
            raise WriteError(target, _why(exc), errno=exc.errno) from exc
        temp = TEMP_PREFIX + os.urandom(6).hex()  # O_EXCL makes a clash an error, never a reuse
        sync = not self._memory_fs
        try:
            create_file(dfd, temp, content, mode=mode, uid=uid, gid=gid, sync=sync)
        except OSError as exc:
            raise WriteError(target, _why(exc), errno=exc.errno) from exc
        try:
            os.rename(temp, name, src_dir_fd=dfd, dst_dir_fd=dfd)
            if not self._memory_fs:
                os.fsync(dfd)
        except OSError as exc:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp, dir_fd=dfd)
            raise WriteError(target, _why(exc), errno=exc.errno) from exc
        return True

    def reshape(
        self,
        target: str,
        files: Mapping[str, bytes],
        *,
        old: Collection[str],
        mode: int,
        uid: int | None = None,
        gid: int | None = None,
    ) -> None:
        """Switch ``<output_dir>/<target>`` between one file and a directory of field files
        (:mod:`secrets_agent.reshape`: new shape built aside, swapped in atomically, then the
        old entry removed). ``files`` is either ``{target: bytes}`` or ``{target/field:
        bytes}``; ``old`` are the relpaths the agent wrote for ``target`` before. Raises
        ``WriteError`` (old entry intact) and ``ValueError`` for invalid paths."""
        prefix = target + "/"
        if relpath_problem(target) is not None or not 0 <= mode <= 0o777:
            raise ValueError("invalid target path or mode")
        new: dict[str, bytes] | bytes
        if target in files:
            if len(files) != 1:
                raise ValueError("a file target has exactly one file")
            new = files[target]
        else:
            new = {f[len(prefix) :]: c for f, c in files.items() if f.startswith(prefix)}
            if len(new) != len(files) or any(segment_problem(n) for n in new):
                raise ValueError("field files must be <target>/<valid segment>")
        old_names = [f[len(prefix) :] for f in old if f.startswith(prefix)]
        *dirs, name = target.split("/")
        with self._lock:
            try:
                root, root_stat = self._root_for(target)
                dfd, _ = self._dirs.open(
                    root, root_stat, dirs, euid=self._euid, create_mode=self.dir_mode, gid=gid
                )
                reshape.switch(
                    dfd,
                    name,
                    new,
                    old=old_names,
                    mode=mode,
                    dir_mode=self.dir_mode,
                    uid=uid,
                    gid=gid,
                    sync=not self._memory_fs,
                )
            except reshape.ShapeError as exc:
                raise WriteError(target, str(exc)) from None
            except UnsafePathError as exc:
                raise WriteError(target, f"refusing: {exc}") from None
            except OSError as exc:
                raise WriteError(target, _why(exc), errno=exc.errno) from exc
            finally:
                self._dirs.clear()  # the target's directory descriptor (if kept) is stale now

    # -- removing --------------------------------------------------------------------------

    def remove(self, relpath: str) -> bool:
        """Remove the regular file ``<output_dir>/<relpath>`` and then every directory above it
        that is left empty (up to, not including, ``output_dir``).

        Returns True if a file was removed; False if there was none, or the entry is not a
        regular file (left alone, with a warning). Raises ``WriteError``/``ValueError``.
        """
        problem = relpath_problem(relpath)
        if problem is not None:
            raise ValueError(f"invalid target path: {problem}")
        *dirs, name = relpath.split("/")
        with self._lock:
            root, _ = self._root_for(relpath)
            self._dirs.clear()  # directories may be removed below: drop their descriptors
            try:
                fds = walk(root, dirs, euid=self._euid, create_mode=None, gid=None)
            except FileNotFoundError:
                return False
            except UnsafePathError as exc:
                raise WriteError(relpath, f"refusing: {exc}") from None
            except OSError as exc:
                raise WriteError(relpath, _why(exc), errno=exc.errno) from exc
            try:
                removed = self._unlink_regular(fds[-1], name, relpath)
                for parent, child in zip(reversed(fds[:-1]), reversed(dirs), strict=True):
                    try:
                        os.rmdir(child, dir_fd=parent)
                    except OSError:
                        break  # not empty (or gone): stop pruning
                return removed
            finally:
                close_all(fds)

    @staticmethod
    def _unlink_regular(dfd: int, name: str, target: str) -> bool:
        try:
            st = os.stat(name, dir_fd=dfd, follow_symlinks=False)
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise WriteError(target, _why(exc), errno=exc.errno) from exc
        if not stat.S_ISREG(st.st_mode):
            log.warning("%s: not a regular file; left in place", target)
            return False
        try:
            os.unlink(name, dir_fd=dfd)
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise WriteError(target, _why(exc), errno=exc.errno) from exc
        return True
