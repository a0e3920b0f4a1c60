"""Remove one file the agent wrote, and the directories above it that it leaves empty.

Only a regular file is removed: anything else at that name (symlink, FIFO, directory, ...) is
left alone with a warning. The path is walked with ``O_NOFOLLOW`` one segment at a time
(:mod:`secrets_agent.writer.safedir`), so a symlink planted inside ``output_dir`` is never followed.
"""

from __future__ import annotations

import logging
import os
import stat

from secrets_agent.writer.errors import WriteError, why
from secrets_agent.writer.safedir import UnsafePathError, close_all, walk

log = logging.getLogger(__name__)


def remove_file(root: int, relpath: str, *, euid: int) -> bool:
    """Remove the regular file ``relpath`` below the directory ``root``, then every directory
    above it left empty (up to, not including, ``root``). True if a file was removed; raises
    ``WriteError``. ``relpath`` must be valid (``relpaths.relpath_problem``)."""
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
