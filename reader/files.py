"""Reading one secret file the way the agent writes it, safely.

Used by the ``file`` backend and by the Vault/AWS managers' fallback to the agent's files.
The common case never follows a symlink: the directory is opened, each component of the key
is opened beneath it with ``O_NOFOLLOW`` (``O_DIRECTORY`` for the parents, relative to the
parent's descriptor), and the file is read from its own descriptor. Only when a component is a
symlink (``ELOOP``/``ENOTDIR``) is the checked path taken: the path is resolved, anything that
resolves outside the directory is refused, and the resolved file is opened with ``O_NOFOLLOW``
so a symlink swapped in afterwards is refused too. So symlinks that stay inside the directory
(Kubernetes secret volumes) work. Only regular files are read; the bytes are returned exactly,
decoded as UTF-8, nothing stripped.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from .errors import (
    SecretAccessDeniedError,
    SecretBackendUnavailableError,
    SecretManagerError,
    SecretNotFoundError,
)

MAX_FILE_BYTES = 4 * 1024 * 1024

_OPEN_FLAGS = os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY
_PARENT_FLAGS = os.O_RDONLY | os.O_CLOEXEC | os.O_DIRECTORY | os.O_NOFOLLOW
# A symlink met on the way (O_NOFOLLOW: ELOOP on the file, ENOTDIR on a parent) or a parent
# that is not a directory: decided by the checked path.
_TAKE_CHECKED_PATH = frozenset((errno.ELOOP, errno.ENOTDIR))
_SET_ATTEMPTS = 3
_SET_SWITCHED = frozenset((errno.ENOENT, errno.ELOOP, errno.EINVAL))


class _MissingError(Exception):
    """Internal: no such file (the caller decides about fallbacks)."""


def credential_name(key: str) -> str:
    """The name systemd gives ``key`` inside a ``LoadCredential=`` directory: ``/`` -> ``_``."""
    return key.replace("/", "_")


def read_secret_file(directory: Path | str, key: str, *, backend: str = "file") -> str:
    """Return the content of ``<directory>/<key>`` (or ``<directory>/<credential_name(key)>``).

    ``key`` must already be validated. Raises ``SecretNotFoundError`` (no such file),
    ``SecretAccessDeniedError`` (permission, symlink escaping the directory, not a regular
    file), ``SecretBackendUnavailableError`` (directory missing, I/O errors) or
    ``SecretManagerError`` (not UTF-8, too large).
    """
    base = os.fspath(directory)
    try:
        try:
            data = _read_beneath(base, key)
        except _MissingError:
            if "/" not in key:
                raise
            data = _read_beneath(base, credential_name(key))
    except _MissingError:
        if not Path(base).is_dir():
            raise SecretBackendUnavailableError(
                f"secrets directory {base} does not exist", backend=backend, key=key
            ) from None
        raise SecretNotFoundError(
            f"secret {key!r} not found in {base}", backend=backend, key=key
        ) from None
    except OSError as exc:
        raise _translate(exc, base, key, backend) from exc
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        # No chaining: the decode error would quote bytes of the value.
        raise SecretManagerError(
            f"secret file for {key!r} in {base} is not valid UTF-8", backend=backend, key=key
        ) from None


def _read_beneath(base: str, relative: str) -> bytes:
    """``_read_once``, tried again (up to ``_SET_ATTEMPTS`` times) when a nested key vanished
    or its path changed while it was resolved: the agent switches a secret's directory of
    fields as a whole (for a moment through a symlink) and then removes the old directory, so
    a read that began in the old directory can find it emptied, and a symlink being resolved
    can turn into a directory again (``readlink``: ``EINVAL``) or loop."""
    for _ in range(_SET_ATTEMPTS - 1):
        try:
            return _read_once(base, relative)
        except _MissingError:
            if "/" not in relative:
                raise
        except OSError as exc:
            if "/" not in relative or exc.errno not in _SET_SWITCHED:
                raise
    return _read_once(base, relative)


def _read_once(base: str, relative: str) -> bytes:
    try:
        fd = _open_without_symlinks(base, relative)
    except FileNotFoundError:
        raise _MissingError from None
    except OSError as exc:
        if exc.errno not in _TAKE_CHECKED_PATH:
            raise
        fd = _open_resolved(base, relative)
    try:
        return _read_regular(fd)
    finally:
        os.close(fd)


def _open_without_symlinks(base: str, relative: str) -> int:
    """Open ``relative`` beneath ``base`` component by component, following no symlink in it.

    ``base`` itself is opened as a path (its own symlinks are followed, as its resolution
    always was); each component of ``relative`` gets ``O_NOFOLLOW``.
    """
    prefix = f"{base}/" if base else ""
    if "/" not in relative:
        return os.open(prefix + relative, _OPEN_FLAGS)
    first, *parents, name = relative.split("/")
    dir_fd = os.open(prefix + first, _PARENT_FLAGS)
    try:
        for part in parents:
            parent_fd = os.open(part, _PARENT_FLAGS, dir_fd=dir_fd)
            os.close(dir_fd)
            dir_fd = parent_fd
        return os.open(name, _OPEN_FLAGS, dir_fd=dir_fd)
    finally:
        os.close(dir_fd)


def _open_resolved(base: str, relative: str) -> int:
    """Open ``relative`` after resolving its symlinks; refused if it leaves ``base``."""
    real_dir = os.path.realpath(base)
    real = os.path.realpath(f"{real_dir}/{relative}")
    if not real.startswith(real_dir.rstrip(os.sep) + os.sep):
        raise PermissionError(errno.EXDEV, "resolves outside the secrets directory")
    try:
        return os.open(real, _OPEN_FLAGS)
    except (FileNotFoundError, NotADirectoryError):
        raise _MissingError from None


def _read_regular(fd: int) -> bytes:
    info = os.fstat(fd)
    if stat.S_ISDIR(info.st_mode):
        raise _MissingError
    if not stat.S_ISREG(info.st_mode):
        raise PermissionError(errno.EPERM, "not a regular file")
    if info.st_size > MAX_FILE_BYTES:
        raise OSError(errno.EFBIG, "larger than the limit for a secret file")
    chunk = os.read(fd, info.st_size + 4096)
    if len(chunk) == info.st_size:
        # Every byte fstat announced, and fewer than asked for: the end of the file.
        return chunk
    chunks: list[bytes] = []
    size = 0
    while chunk:
        size += len(chunk)
        if size > MAX_FILE_BYTES:
            raise OSError(errno.EFBIG, "larger than the limit for a secret file")
        chunks.append(chunk)
        chunk = os.read(fd, max(info.st_size - size, 0) + 4096)
    return b"".join(chunks)


def _translate(exc: OSError, base: str, key: str, backend: str) -> SecretManagerError:
    reason = exc.strerror or type(exc).__name__
    where = f"secret file for {key!r} in {base}"
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EXDEV):
        return SecretAccessDeniedError(f"{where}: {reason}", backend=backend, key=key)
    if exc.errno == errno.ELOOP:
        return SecretAccessDeniedError(
            f"{where}: is a symlink that could not be resolved safely; refused",
            backend=backend,
            key=key,
        )
    if exc.errno == errno.EFBIG:
        return SecretManagerError(f"{where}: {reason}", backend=backend, key=key)
    return SecretBackendUnavailableError(f"{where}: {reason}", backend=backend, key=key)


__all__ = ["MAX_FILE_BYTES", "credential_name", "read_secret_file"]
