"""A secret's directory of field files replaced as a whole: one set, never a mix.

``format = "fields"`` writes ``<target>/<field>`` for every field. Renaming the new files in
one by one would let a consumer read the new username with the old password. Instead
``replace_set``:

1. opens ``<target>`` (``O_NOFOLLOW``) and compares: when every field is already current
   (``replace.is_current``: content, mode, owner, group) and nothing else is to go, nothing is
   written;
2. builds the complete new set aside, as a directory ``.tmp-<random>`` next to ``<target>``
   (exact file modes and owners; the directory gets ``dir_mode`` plus the old directory's
   setgid/sticky bits, and group ``gid`` or the old directory's group), twice;
3. switches ``<target>`` from the old directory to the new one with exchanges
   (``renameat2(RENAME_EXCHANGE)``, ``switch_directories``): a path lookup of
   ``<target>/<field>`` meets the old set or the new one, and a consumer that opens
   ``<target>`` once (``O_DIRECTORY``) and reads its fields through that descriptor reads one
   set;
4. hands the old directory, now under a temporary name, to the caller, which removes it a
   moment later (``RetiredSets``): a path lookup or a read that began in the old directory
   just before the switch still finds every old file there, instead of none.

The swap renames ``<target>`` in its parent, so a recursive inotify watch (the reader's
``watch.py``) reports ``<target>`` moved, which invalidates every ``<target>/...`` key. The
temporary names start with ``.``: the reader ignores them, and ``prepare()`` removes any left by
a crash (a crash leaves the old set or the new one in place, and at most one ``.tmp-*``
directory beside it).

Entries the new set would drop are removed with the old directory when the caller names them
as its own (``old``) or they are the agent's temp files. Anything else in the directory (a
file the agent did not write, a subdirectory, a symlink) raises ``NotSwappableError`` before
anything is written, as does a directory owned by root rather than the agent: the caller then
replaces the files one by one, which keeps what it cannot account for.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Callable, Collection, Mapping

from secrets_agent.writer.directories import DIR_FLAGS, apply_mode, check_dir_stat
from secrets_agent.writer.entries import build, remove_entry, swap
from secrets_agent.writer.errors import WriteError, why
from secrets_agent.writer.replace import TEMP_PREFIX, FileRules, exchange, is_current, temp_name


class NotSwappableError(Exception):
    """The directory holds what the swap would lose, or is not the agent's; nothing changed."""


def replace_set(
    dfd: int,
    name: str,
    files: Mapping[str, bytes],
    *,
    old: Collection[str] | None,
    target: str,
    rules: FileRules,
    dir_mode: int,
    retire: Callable[[str, list[str]], None],
) -> list[str]:
    """Make directory ``name`` of ``dfd`` hold exactly ``files`` (field -> content), as a whole
    (module docstring), each file as ``rules`` say and the directory with ``dir_mode``.
    ``old``: the field names the caller wrote before (``None``: unknown).
    ``retire(name, entries)`` is handed the old directory, switched out (the caller removes it
    later: ``RetiredSets``).
    Returns the fields written or removed, sorted (empty: nothing changed). Raises
    ``NotSwappableError`` (nothing changed) and ``WriteError`` naming ``target`` (old set
    intact)."""
    try:
        fd: int | None = os.open(name, DIR_FLAGS, dir_fd=dfd)
    except FileNotFoundError:
        fd = None
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            raise WriteError(target, "refusing: a symlink or file is in the way") from None
        raise WriteError(target, why(exc), errno=exc.errno) from exc
    if fd is None:
        temp = temp_name()
        _build(dfd, temp, files, target, rules, dir_mode, None)
        try:
            os.rename(temp, name, src_dir_fd=dfd, dst_dir_fd=dfd)
        except OSError as exc:
            with contextlib.suppress(OSError):
                remove_entry(dfd, temp, list(files))
            raise WriteError(target, why(exc), errno=exc.errno) from exc
        if rules.sync:
            os.fsync(dfd)
        return sorted(files)
    try:
        dir_stat = os.fstat(fd)
        changed, dropped = _compare(fd, dir_stat, files, old, target, rules)
        apply_mode(fd, dir_stat, dir_mode, rules.euid)  # as a walk into the directory would
    except OSError as exc:
        raise WriteError(target, why(exc), errno=exc.errno) from exc
    finally:
        os.close(fd)
    if not changed and not dropped:
        return []
    if dir_stat.st_uid != rules.euid:
        raise NotSwappableError("the directory is not owned by the agent")
    special = stat.S_IMODE(dir_stat.st_mode) & ~0o777
    group = rules.gid if rules.gid is not None else dir_stat.st_gid
    copies: list[str] = []
    try:
        for _ in range(2):  # the new set, and the copy the bridge symlink points to
            copies.append(temp_name())
            _build(dfd, copies[-1], files, target, rules, special | dir_mode, group)
        switched_out = switch_directories(dfd, name, copies[0], copies[1])
    except (OSError, WriteError) as exc:
        for copy in copies:
            with contextlib.suppress(OSError):
                remove_entry(dfd, copy, list(files))
        if isinstance(exc, WriteError):
            raise
        raise WriteError(target, why(exc), errno=exc.errno) from exc
    for entry in switched_out:
        retire(entry, [*files, *dropped])
    if rules.sync:
        os.fsync(dfd)
    return sorted({*changed, *(e for e in dropped if not e.startswith(TEMP_PREFIX))})


def _compare(
    fd: int,
    dir_stat: os.stat_result,
    files: Mapping[str, bytes],
    old: Collection[str] | None,
    target: str,
    rules: FileRules,
) -> tuple[list[str], list[str]]:
    """The fields that differ and the entries to drop (stale fields named in ``old``, temp
    files); ``NotSwappableError`` when something else is in the directory and a write is due."""
    problem = check_dir_stat(dir_stat, rules.euid)
    if problem is not None:
        raise WriteError(target, f"refusing: directory {problem}")
    changed = []
    for field, content in files.items():
        try:
            current = is_current(
                fd, field, content, mode=rules.mode, uid=rules.uid, gid=rules.gid,
                euid=rules.euid, egid=rules.egid, dir_stat=dir_stat,
            )  # fmt: skip
        except IsADirectoryError:
            raise WriteError(
                f"{target}/{field}", "a directory is in the way; refusing to replace it"
            ) from None
        if not current:
            changed.append(field)
    extra = [entry for entry in os.listdir(fd) if entry not in files]
    ours = set(old or ())
    dropped = [e for e in extra if e.startswith(TEMP_PREFIX) or (e in ours and _is_file(fd, e))]
    foreign = set(extra) - set(dropped)
    if foreign and (changed or dropped):
        raise NotSwappableError(f"the directory holds {len(foreign)} other entries")
    return changed, dropped


def _is_file(fd: int, name: str) -> bool:
    try:
        return stat.S_ISREG(os.stat(name, dir_fd=fd, follow_symlinks=False).st_mode)
    except OSError:
        return False


def _build(
    dfd: int,
    temp: str,
    files: Mapping[str, bytes],
    target: str,
    rules: FileRules,
    dir_mode: int,
    dir_gid: int | None,
) -> None:
    """``entries.build`` with its ``OSError`` as a ``WriteError`` naming ``target``."""
    try:
        build(
            dfd, temp, files, mode=rules.mode, dir_mode=dir_mode, uid=rules.uid, gid=rules.gid,
            sync=rules.sync, dir_gid=dir_gid,
        )  # fmt: skip
    except OSError as exc:
        raise WriteError(target, why(exc), errno=exc.errno) from exc


def switch_directories(dfd: int, name: str, new: str, copy: str) -> list[str]:
    """Put directory ``new`` of ``dfd`` at ``name`` in place of the directory there, ``copy``
    being a second copy of ``new``; return the temporary names left to remove (the old
    directory, the copy, the bridge symlink) once lookups in flight are done with them.

    Two exchanges, each naming a non-directory first, with a symlink to ``copy`` as the bridge:
    ``name`` holds the old directory, then the symlink (a lookup through it reaches the copy),
    then ``new``. One exchange of the two directories would do for the kernel, but watchdog's
    recursive inotify observer tracks watched directories by name and cannot tell two
    directories that swap names apart: it reports the new directory's later changes under the
    old name and fails when the observer stops. The symlink points to the copy, not to ``new``,
    because ``new`` leaves its name in the second exchange: a lookup that read the symlink just
    before it would otherwise come back to the symlink itself. Raises ``OSError`` with the old
    directory at ``name``; where the kernel cannot exchange, ``entries.swap``'s two renames
    are used.
    """
    link = temp_name()
    os.symlink(copy, link, dir_fd=dfd)
    try:
        exchange(dfd, link, name)  # name: the symlink to the copy; link: the old directory
    except OSError as exc:
        os.unlink(link, dir_fd=dfd)
        if exc.errno not in (errno.ENOSYS, errno.EINVAL, errno.EPERM):
            raise
        swap(dfd, new, name)
        return [new, copy]
    try:
        exchange(dfd, name, new)  # name: the new directory; new: the symlink
    except OSError:
        exchange(dfd, name, link)  # the old directory back at name, the symlink at link
        os.unlink(link, dir_fd=dfd)
        raise
    return [link, copy, new]


class RetiredSets:
    """Old sets switched out, kept ``keep_seconds`` before they are removed (the writer removes
    what ``due`` returns, at its next operation, and everything at ``close``)."""

    def __init__(self, keep_seconds: float) -> None:
        self.keep_seconds = keep_seconds
        self._entries: list[tuple[float, tuple[str, ...], str, tuple[str, ...]]] = []

    def __len__(self) -> int:
        return len(self._entries)

    def add(self, now: float, parent: tuple[str, ...], name: str, entries: list[str]) -> None:
        """Keep directory ``name`` (holding ``entries``) of ``output_dir/parent...``."""
        self._entries.append((now, parent, name, tuple(entries)))

    def due(
        self, now: float, *, everything: bool = False
    ) -> list[tuple[tuple[str, ...], str, tuple[str, ...]]]:
        """The sets kept long enough (all with ``everything``), no longer kept here."""
        cut = len(self._entries)
        if not everything:
            cut = next(
                (i for i, e in enumerate(self._entries) if now - e[0] < self.keep_seconds), cut
            )
        due, self._entries = self._entries[:cut], self._entries[cut:]
        return [(parent, name, entries) for _t, parent, name, entries in due]
