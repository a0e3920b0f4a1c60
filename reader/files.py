"""Reading one secret file the way the agent writes it, safely.

Used by the ``file`` backend and by the Vault/AWS managers' fallback to the agent's files.
The file is opened by ``beneath.open_inside``: ``SECRETS_DIR`` itself as a path (its own
symlinks are followed: it is the operator's choice), the key beneath it following a symlink only
while it stays inside (Kubernetes ``..data`` layouts work) and refusing one that is absolute or
climbs out, in the same step as the open, so swapping a directory of the tree for a symlink at
any moment cannot make the reader return a file outside it. Only regular files are read; the
bytes are returned exactly, decoded as UTF-8, nothing stripped.

When ``<dir>/a/b`` does not exist, ``<dir>/a_b`` (systemd's ``LoadCredential=`` name) is read
instead; the first such read of a key is logged at INFO (key and directory, never the value).
"""

from __future__ import annotations

import errno
import os
import stat
import threading
from pathlib import Path

from .beneath import open_inside
from .errors import (
    SecretAccessDeniedError,
    SecretBackendUnavailableError,
    SecretManagerError,
    SecretNotFoundError,
)
from .logger import get_logger

MAX_FILE_BYTES = 4 * 1024 * 1024

_OPEN_FLAGS = os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK | os.O_NOCTTY
# Keys whose LoadCredential= name has been logged, bounded so that a caller trying many keys
# cannot grow it without end (past the bound, further keys are logged at DEBUG every time).
_NOTED_LIMIT = 4096
_noted: set[str] = set()
_noted_lock = threading.Lock()
# The agent switches a secret's directory of fields as a whole (for a moment through a symlink,
# then the old directory goes): a nested key read across that moment is tried again.
_SET_ATTEMPTS = 3
_SET_SWITCHED = frozenset((errno.ENOENT, errno.ELOOP, errno.EINVAL, errno.ENOTDIR))


class _MissingError(Exception):
    """Internal: no such file (the caller decides about fallbacks)."""


def credential_name(key: str) -> str:
    """The name systemd gives ``key`` inside a ``LoadCredential=`` directory: ``/`` -> ``_``."""
    return key.replace("/", "_")


def read_secret_file(directory: Path | str, key: str, *, backend: str = "file") -> str:
    """Return the content of ``<directory>/<key>`` (or ``<directory>/<credential_name(key)>``).

    ``key`` must already be validated. Raises ``SecretNotFoundError`` (no such file),
    ``SecretAccessDeniedError`` (permission, symlink leaving the directory, not a regular
    file), ``SecretBackendUnavailableError`` (directory missing, I/O errors) or
    ``SecretManagerError`` (not UTF-8, too large).
    """
    base = os.fspath(directory)
    try:
        data = _read(base, key)
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


def _read(base: str, key: str) -> bytes:
    try:
        return _read_nested(base, key) if "/" in key else _read_inside(base, key)
    except _MissingError:
        if "/" not in key:
            raise
        data = _read_inside(base, credential_name(key))
    _note_credential_name(key, base)
    return data


def _read_nested(base: str, relative: str) -> bytes:
    """``_read_inside``, tried again (up to ``_SET_ATTEMPTS`` times in all) when the key
    vanished or its path changed while it was resolved (a field set being switched)."""
    for _ in range(_SET_ATTEMPTS - 1):
        try:
            return _read_inside(base, relative)
        except _MissingError:
            pass
        except OSError as exc:
            if exc.errno not in _SET_SWITCHED:
                raise
    return _read_inside(base, relative)


def _read_inside(base: str, relative: str) -> bytes:
    try:
        fd = open_inside(base, relative, _OPEN_FLAGS)
    except (FileNotFoundError, NotADirectoryError):
        raise _MissingError from None
    try:
        return _read_regular(fd)
    finally:
        os.close(fd)


def _note_credential_name(key: str, base: str) -> None:
    with _noted_lock:
        first = key not in _noted and len(_noted) < _NOTED_LIMIT
        if first:
            _noted.add(key)
    logger = get_logger()
    (logger.info if first else logger.debug)(
        "secret %r: %s/%s does not exist; read %s/%s (its LoadCredential= name) instead",
        key,
        base,
        key,
        base,
        credential_name(key),
    )


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
    if exc.errno == errno.EXDEV:
        return SecretAccessDeniedError(
            f"{where}: resolves outside the secrets directory; refused", backend=backend, key=key
        )
    if exc.errno in (errno.EACCES, errno.EPERM):
        return SecretAccessDeniedError(f"{where}: {reason}", backend=backend, key=key)
    if exc.errno == errno.ELOOP:
        return SecretAccessDeniedError(
            f"{where}: too many symlinks to resolve safely; refused",
            backend=backend,
            key=key,
        )
    if exc.errno == errno.EFBIG:
        return SecretManagerError(f"{where}: {reason}", backend=backend, key=key)
    return SecretBackendUnavailableError(f"{where}: {reason}", backend=backend, key=key)


__all__ = ["MAX_FILE_BYTES", "credential_name", "read_secret_file"]
