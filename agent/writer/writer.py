"""Atomic, private, symlink-proof writes of secret files into ``output_dir``.

Rules (DESIGN section 3), each kept by one module:

* ``output_dir`` is created if missing, must be a real, private directory on tmpfs/ramfs
  (unless ``allow_non_tmpfs``; neither group- nor world-writable), gets ``dir_mode`` when the
  agent owns it, and is re-checked at every operation; stale ``.tmp-*`` files are removed at
  ``prepare()`` (:mod:`secrets_agent.writer.output_dir`).
* Every path below ``output_dir`` is walked one segment at a time with
  ``O_DIRECTORY|O_NOFOLLOW`` and ``dir_fd=``, so a symlink planted anywhere inside is never
  followed; descriptors of recently used directories are kept and re-validated per level
  (:mod:`secrets_agent.writer.directories`). Subdirectories follow the same rules as
  ``output_dir``; missing ones are created with ``dir_mode`` (group set to the file's gid).
  Names follow :mod:`secrets_agent.writer.paths`.
* A file is replaced atomically through a temp file with its final mode and owner, or left
  alone when already identical (:mod:`secrets_agent.writer.replace`); the files of one secret
  (``write_files``) are replaced all or nothing, and a directory of fields as a whole set
  (:mod:`secrets_agent.writer.sets`); a secret switching between one file and a
  directory of fields is swapped whole, and files no longer wanted are removed with the
  directories they leave empty (:mod:`secrets_agent.writer.entries`).
* Any failure leaves the old file intact and raises ``WriteError``, which names the target and
  the errno text, never the content.

Operations are serialised by one lock (each is microseconds on tmpfs), so concurrent writes to
different targets from a thread pool are safe.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
import threading
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path

from secrets_agent.writer import entries
from secrets_agent.writer.directories import UnsafePathError
from secrets_agent.writer.errors import OutputDirError, WriteError, why
from secrets_agent.writer.output_dir import OutputDir
from secrets_agent.writer.paths import relpath_problem, segment_problem
from secrets_agent.writer.replace import TEMP_PREFIX, FileRules, replace_file, replace_files
from secrets_agent.writer.sets import NotSwappableError, RetiredSets, replace_set

__all__ = ["TEMP_PREFIX", "OutputDirError", "SecretWriter", "WriteError"]

log = logging.getLogger(__name__)

_VALID_CACHE = 4096  # relpaths known to be valid (a set, cleared when full)
# An old set of fields stays (under a temporary name) this long after the new one is switched
# in, so a lookup that had just entered it still finds its files; removed at a later operation.
RETIRED_SET_SECONDS = 2.0


class SecretWriter:
    """Writes files below ``output_dir`` following the rules in the module docstring."""

    def __init__(
        self,
        output_dir: Path,
        *,
        dir_mode: int = 0o700,
        allow_non_tmpfs: bool = False,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        self.output_dir = Path(output_dir).absolute()  # never resolve(): no symlink following
        self.dir_mode = dir_mode
        self.allow_non_tmpfs = allow_non_tmpfs
        self._timer = timer
        self._retired = RetiredSets(RETIRED_SET_SECONDS)
        self._lock = threading.Lock()
        self._euid = os.geteuid()
        self._egid = os.getegid()
        self._root = OutputDir(
            self.output_dir, dir_mode=dir_mode, allow_non_tmpfs=allow_non_tmpfs, euid=self._euid
        )
        self._valid: set[str] = set()

    def close(self) -> None:
        """Remove the old field sets still kept and close the kept directory descriptors (they
        are reopened by the next operation)."""
        with self._lock:
            self._remove_retired(everything=True)
            self._root.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self._root.close()

    # -- output_dir ------------------------------------------------------------------------

    def prepare(self) -> None:
        """Create ``output_dir`` if missing (its parent must exist and, unless
        ``allow_non_tmpfs``, be on tmpfs/ramfs: nothing is created otherwise), validate it, and
        remove stale ``.tmp-*`` files anywhere below it. Raises ``OutputDirError``."""
        with self._lock:
            self._retired.due(0.0, everything=True)  # removed below with every other temp
            self._root.prepare()

    def _root_for(self, target: str) -> tuple[int, os.stat_result]:
        """The checked root descriptor and its stat; ``WriteError`` if it became unusable."""
        try:
            return self._root.descriptor()
        except OutputDirError as exc:
            raise WriteError(target, f"output directory unusable: {exc}") from None

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
            self._check_relpath(relpath)
        if not 0 <= mode <= 0o777:
            raise ValueError("mode must be between 0 and 0o777")
        *dirs, name = relpath.split("/")
        with self._lock:
            self._remove_retired()
            try:
                dfd, dir_stat = self._open_dir(relpath, dirs, gid)
                return self._replace(dfd, dir_stat, name, relpath, content, mode, uid, gid)
            finally:
                self._root.dirs.trim()

    def write_files(
        self,
        files: Mapping[str, bytes],
        *,
        mode: int,
        uid: int | None = None,
        gid: int | None = None,
        old: Collection[str] | None = None,
    ) -> list[str]:
        """Write the files of one secret, all in one directory, all or nothing: on a
        ``WriteError`` (a full tmpfs included) every file is as it was.

        Several files in a subdirectory (``<target>/<field>``) are that secret's set: the
        directory is rebuilt aside and swapped in whole (:mod:`secrets_agent.writer.sets`), so
        readers see the old set or the new one, never a mix; files of ``old`` (the relpaths
        written for this secret before) that are not in ``files`` go with the old set. When
        the directory holds anything else the files are replaced one by one
        (:func:`secrets_agent.writer.replace.replace_files`), as are several files directly in
        ``output_dir``. Returns the relpaths written or removed. Raises ``ValueError`` for an
        invalid relpath or mode, or files in more than one directory."""
        if len(files) == 1:
            ((relpath, content),) = files.items()
            return [relpath] if self.write(relpath, content, mode=mode, uid=uid, gid=gid) else []
        parents = {relpath.rpartition("/")[0] for relpath in files}
        if len(parents) > 1:
            raise ValueError("the files written together must be in one directory")
        for relpath in files:
            if relpath not in self._valid:
                self._check_relpath(relpath)
        if not 0 <= mode <= 0o777:
            raise ValueError("mode must be between 0 and 0o777")
        if not files:
            return []
        parent = parents.pop()
        dirs: Sequence[str] = parent.split("/") if parent else ()
        where = parent + "/" if parent else ""
        names = {relpath[len(where) :]: content for relpath, content in files.items()}
        if dirs:
            old_names = (
                None if old is None else [f[len(where) :] for f in old if f.startswith(where)]
            )
            changed_set = self._swap_set(parent, dirs, names, old_names, mode, uid, gid)
            if changed_set is not None:
                return [where + name for name in changed_set]
        with self._lock:
            try:
                dfd, dir_stat = self._open_dir(parent or ".", dirs, gid)
                changed = replace_files(
                    dfd, dir_stat, names, where=where, rules=self._rules(mode, uid, gid)
                )
            finally:
                self._root.dirs.trim()
        return [where + name for name in changed]

    def _swap_set(
        self,
        parent: str,
        dirs: Sequence[str],
        names: Mapping[str, bytes],
        old: Collection[str] | None,
        mode: int,
        uid: int | None,
        gid: int | None,
    ) -> list[str] | None:
        """``sets.replace_set`` for the directory ``parent``; ``None`` when it is not
        swappable (the caller replaces the files one by one)."""
        *above, name = dirs

        def retire(old_set: str, entries: list[str]) -> None:
            self._retired.add(self._timer(), tuple(above), old_set, entries)

        with self._lock:
            self._remove_retired()
            try:
                dfd, _ = self._open_dir(parent, above, gid)
                return replace_set(
                    dfd,
                    name,
                    names,
                    old=old,
                    target=parent,
                    rules=self._rules(mode, uid, gid),
                    dir_mode=self.dir_mode,
                    retire=retire,
                )
            except NotSwappableError as exc:
                log.info("%s: replacing the files one by one: %s", parent, exc)
                return None
            finally:
                self._root.dirs.forget(tuple(dirs))  # the swapped-out directory's descriptor
                self._root.dirs.trim()

    def _check_relpath(self, relpath: str) -> None:
        problem = relpath_problem(relpath)
        if problem is not None:
            raise ValueError(f"invalid target path: {problem}")
        if len(self._valid) >= _VALID_CACHE:
            self._valid.clear()
        self._valid.add(relpath)

    def _open_dir(
        self, target: str, dirs: Sequence[str], gid: int | None
    ) -> tuple[int, os.stat_result]:
        """The (cached) descriptor and stat of ``output_dir/dirs...``, created if missing;
        ``WriteError`` naming ``target``. Call with the lock held."""
        root, root_stat = self._root_for(target)
        try:
            return self._root.dirs.open(
                root, root_stat, dirs, euid=self._euid, create_mode=self.dir_mode, gid=gid
            )
        except UnsafePathError as exc:
            raise WriteError(target, f"refusing: {exc}") from None
        except OSError as exc:
            raise WriteError(target, why(exc), errno=exc.errno) from exc

    def write_dotfile(self, name: str, content: bytes, *, mode: int = 0o600) -> None:
        """Atomically write one of the agent's own files (``.status.json``) in ``output_dir``."""
        bare = name[1:] if name.startswith(".") else ""
        if not bare or name.startswith(TEMP_PREFIX) or segment_problem(bare) is not None:
            raise ValueError("a dot file name is '.' followed by one valid path segment")
        with self._lock:
            self._remove_retired()
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
        return replace_file(
            dfd, dir_stat, name, content, target=target, rules=self._rules(mode, uid, gid)
        )

    def _rules(self, mode: int, uid: int | None, gid: int | None) -> FileRules:
        return FileRules(mode, uid, gid, self._euid, self._egid, not self._root.memory_fs)

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
        (:mod:`secrets_agent.writer.entries`: new shape built aside, swapped in atomically, then the
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
            self._remove_retired()
            try:
                root, root_stat = self._root_for(target)
                dfd, _ = self._root.dirs.open(
                    root, root_stat, dirs, euid=self._euid, create_mode=self.dir_mode, gid=gid
                )
                entries.switch(
                    dfd,
                    name,
                    new,
                    old=old_names,
                    mode=mode,
                    dir_mode=self.dir_mode,
                    uid=uid,
                    gid=gid,
                    sync=not self._root.memory_fs,
                )
            except entries.ShapeError as exc:
                raise WriteError(target, str(exc)) from None
            except UnsafePathError as exc:
                raise WriteError(target, f"refusing: {exc}") from None
            except OSError as exc:
                raise WriteError(target, why(exc), errno=exc.errno) from exc
            finally:
                self._root.dirs.clear()  # the target's directory descriptor (if kept) is stale now

    def _remove_retired(self, *, everything: bool = False) -> None:
        """Remove the old field sets kept long enough (all with ``everything``). Call with the
        lock held; a failure is logged (``prepare()`` at the next start removes leftovers)."""
        if not len(self._retired):
            return
        for parent, name, entries_ in self._retired.due(self._timer(), everything=everything):
            try:
                root, root_stat = self._root.descriptor()
                dfd, _ = self._root.dirs.open(
                    root, root_stat, parent, euid=self._euid, create_mode=None, gid=None
                )
                entries.remove_entry(dfd, name, entries_)
            except (OSError, OutputDirError, UnsafePathError) as exc:
                log.warning("could not remove a replaced set of fields (%s): %s", name, exc)

    # -- removing --------------------------------------------------------------------------

    def identity(self, relpaths: Sequence[str]) -> int | None:
        """A number that changes whenever any of ``relpaths`` is written, replaced, re-owned,
        re-moded, linked or removed (each file's device, inode, change time, size, mode, owner
        and links); None when one is missing or not a regular file, or ``output_dir`` is
        unusable. Only looks: nothing is created, opened or changed."""
        if not relpaths:
            return None
        marks = []
        with self._lock:
            try:
                root, _ = self._root_for(relpaths[0])
            except WriteError:
                return None
            for relpath in relpaths:
                try:
                    st = os.stat(relpath, dir_fd=root, follow_symlinks=False)
                except (OSError, ValueError):
                    return None
                if not stat.S_ISREG(st.st_mode):
                    return None
                marks.append(
                    (
                        st.st_dev,
                        st.st_ino,
                        st.st_ctime_ns,
                        st.st_size,
                        st.st_mode,
                        st.st_uid,
                        st.st_gid,
                        st.st_nlink,
                    )
                )
        return hash(tuple(marks))

    def remove(self, relpath: str) -> bool:
        """Remove the regular file ``<output_dir>/<relpath>`` and then every directory above it
        that is left empty (up to, not including, ``output_dir``).

        Returns True if a file was removed; False if there was none, or the entry is not a
        regular file (left alone, with a warning). Raises ``WriteError``/``ValueError``.
        """
        problem = relpath_problem(relpath)
        if problem is not None:
            raise ValueError(f"invalid target path: {problem}")
        with self._lock:
            self._remove_retired()
            root, _ = self._root_for(relpath)
            self._root.dirs.clear()  # directories may be removed below: drop their descriptors
            return entries.remove_file(root, relpath, euid=self._euid)
