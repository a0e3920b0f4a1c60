"""Who besides the agent could read or replace a file it trusts (its config, its credentials).

A file the agent trusts is safe when only the agent's user and root can change it: owned by one
of them, writable by no one else, and in directories (every one up to ``/``) that no one else can
rename entries in. A file holding a credential must also not be readable by others: readable by
every user, or by a group that is neither the agent's own group nor root's. A group the agent
runs as is trusted (``root:secrets-agent 0640`` is the usual config file), as is root's group.

On a read-only mount (a Kubernetes ConfigMap or service-account token volume) nobody can
change a file or rename entries, whatever its owner and mode bits say: only the read check
applies there.

``file_problems`` returns one line per problem found (never the file's content), or nothing;
a file that does not exist is not a problem here (the loader or the login says so).
"""

from __future__ import annotations

import grp
import os
import pwd
import stat
from pathlib import Path

ROOT = 0


def _user(uid: int) -> str:
    try:
        return f"{pwd.getpwuid(uid).pw_name} (uid {uid})"
    except KeyError:
        return f"uid {uid}"


def _group(gid: int) -> str:
    try:
        return f"group {grp.getgrgid(gid).gr_name}"
    except KeyError:
        return f"gid {gid}"


class Trust:
    """The users and groups whose access is not a problem: root and the agent's own."""

    def __init__(self, uid: int | None = None, gid: int | None = None) -> None:
        self.uids = {ROOT, os.geteuid() if uid is None else uid}
        self.gids = {ROOT, os.getegid() if gid is None else gid}

    def others_can_write(self, st: os.stat_result) -> str | None:
        """Who other than the trusted users can write an inode with ``st``, or ``None``."""
        if st.st_mode & stat.S_IWOTH:
            return "every user"
        if st.st_mode & stat.S_IWGRP and st.st_gid not in self.gids:
            return _group(st.st_gid)
        return None

    def others_can_read(self, st: os.stat_result) -> str | None:
        """Who other than the trusted users can read an inode with ``st``, or ``None``."""
        if st.st_mode & stat.S_IROTH:
            return "every user"
        if st.st_mode & stat.S_IRGRP and st.st_gid not in self.gids:
            return _group(st.st_gid)
        return None


def file_problems(path: Path, what: str, *, secret: bool, trust: Trust | None = None) -> list[str]:
    """Problems with trusting ``path`` (``what`` names it: "token_file"); ``secret``: it holds a
    credential, so reading by others is a problem too."""
    trust = trust if trust is not None else Trust()
    try:
        st = path.stat()
    except OSError:
        return []
    problems: list[str] = []
    mode = f"mode {stat.S_IMODE(st.st_mode):04o}"
    read_only = is_read_only(path)
    if st.st_uid not in trust.uids and not read_only:
        problems.append(
            f"{what} {path} is owned by {_user(st.st_uid)}, not by the agent or root:"
            " that user can change what the agent trusts"
        )
    writer = None if read_only else trust.others_can_write(st)
    if writer is not None:
        problems.append(f"{what} {path} is writable by {writer} ({mode})")
    reader = trust.others_can_read(st) if secret else None
    if reader is not None:
        problems.append(f"{what} {path} holds a credential and is readable by {reader} ({mode})")
    directory = _unsafe_directory(path, trust)
    if directory is not None:
        problems.append(f"{what} {path}: {directory}")
    return problems


def _unsafe_directory(path: Path, trust: Trust) -> str | None:
    """Why a directory above ``path`` (as written, and as resolved) lets someone else swap the
    file, or ``None``."""
    absolute = Path(os.path.abspath(path))  # noqa: PTH100 - symlinks kept
    resolved = Path(os.path.realpath(path))
    seen: set[Path] = set()
    for directory in [*absolute.parents, *resolved.parents]:
        if directory in seen:
            continue
        seen.add(directory)
        try:
            st = directory.stat()
        except OSError:
            continue
        if is_read_only(directory):
            continue
        if st.st_uid not in trust.uids:
            return (
                f"its directory {directory} is owned by {_user(st.st_uid)},"
                " who can replace the file"
            )
        writer = trust.others_can_write(st)
        if writer is not None and not st.st_mode & stat.S_ISVTX:
            return f"its directory {directory} is writable by {writer}, who can replace the file"
    return None


def is_read_only(path: Path) -> bool:
    """Whether ``path`` is on a file system mounted read-only."""
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except OSError:
        return False
