"""The demo's workspace: a fresh directory on tmpfs holding the config, token and secrets.

Everything the demo creates lives under one directory, so cleaning up is one removal. The
directory must be on a memory-backed filesystem, exactly as the agent requires in production.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from secrets_agent.writer import fs_magic, fs_name, swap_protected

# Where the demo creates its directory when --dir is not given, in order of preference.
DEFAULT_BASES: tuple[Path, ...] = (Path("/dev/shm"),)
MEMORY_FILESYSTEMS = ("tmpfs", "ramfs")


class DemoError(Exception):
    """Something on this machine stops the demo; the message says what to do about it."""

    def __init__(self, message: str, *, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def filesystem_type(path: Path) -> str:
    """Return the type of the filesystem holding ``path`` (``"tmpfs"``, ``"ext2/ext3/ext4"``)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return "unknown"
    try:
        return fs_name(fs_magic(fd))
    except OSError:
        return "unknown"
    finally:
        os.close(fd)


@dataclass
class Workspace:
    """The demo's directory: ``root`` holds ``config.toml``, ``vault_token`` and ``secrets/``."""

    root: Path
    fs_type: str

    @property
    def swap_note(self) -> str:
        """Whether the directory's pages can be swapped to disk, as a sentence."""
        protected = swap_protected(str(self.root))
        if protected:
            return "Its pages are never swapped out"
        if not _swap_active():
            return "No swap is active here, so it stays in RAM (production: tmpfs with noswap)"
        return "Its pages can be swapped to disk: in production use a tmpfs mounted noswap"

    @property
    def output_dir(self) -> Path:
        return self.root / "secrets"

    @property
    def config_path(self) -> Path:
        return self.root / "config.toml"

    @property
    def token_path(self) -> Path:
        return self.root / "vault_token"

    def remove(self) -> None:
        """Remove everything the demo created."""
        shutil.rmtree(self.root, ignore_errors=True)

    def remove_all_but_secrets(self) -> None:
        """Remove the config and the token file, keep the secret files (``--keep``)."""
        for path in (self.config_path, self.token_path):
            path.unlink(missing_ok=True)


def _swap_active() -> bool:
    try:
        with open("/proc/swaps", encoding="utf-8") as swaps:
            return len(swaps.read().splitlines()) > 1
    except OSError:
        return True


def _usable_base(base: Path) -> str | None:
    """Return why ``base`` cannot hold the demo's directory, or ``None`` if it can."""
    if not base.is_dir():
        return f"{base} does not exist"
    if not os.access(base, os.W_OK | os.X_OK):
        return f"{base} is not writable"
    fs_type = filesystem_type(base)
    if fs_type not in MEMORY_FILESYSTEMS:
        return f"{base} is on {fs_type}, not tmpfs or ramfs"
    return None


def create_workspace(requested: Path | None, bases: Sequence[Path] | None = None) -> Workspace:
    """Create the demo's directory (``requested``, or a fresh one under a default base).

    Raises ``DemoError`` saying what is wrong and what to do; creates nothing in that case.
    """
    if requested is None:
        problems = []
        for base in bases if bases is not None else DEFAULT_BASES:
            problem = _usable_base(base)
            if problem is None:
                root = Path(tempfile.mkdtemp(prefix="secrets-agent-demo-", dir=base))
                return Workspace(root, filesystem_type(root))
            problems.append(problem)
        raise DemoError(
            "no memory-backed directory to write secrets to ("
            + "; ".join(problems)
            + "). Pass --dir PATH with PATH on a tmpfs, e.g. under /run or a tmpfs you mount: "
            "mount -t tmpfs -o size=16m,mode=0700 tmpfs /mnt/secrets-demo",
            exit_code=2,
        )
    root = requested.absolute()
    if not root.parent.is_dir():
        raise DemoError(
            f"--dir {root}: the parent directory {root.parent} does not exist. Create it, or "
            "choose a path whose parent exists (or leave --dir out to use /dev/shm)",
            exit_code=2,
        )
    if root.exists() or root.is_symlink():
        raise DemoError(
            f"--dir {root} already exists. The demo creates its own directory and removes it "
            "afterwards, so give a path that does not exist yet",
            exit_code=2,
        )
    fs_type = filesystem_type(root.parent)
    if fs_type not in MEMORY_FILESYSTEMS:
        raise DemoError(
            f"--dir {root} would be on {fs_type}, not tmpfs or ramfs, and the agent refuses to "
            "write secrets to a disk. Choose a directory on a tmpfs (e.g. under /dev/shm or /run)",
            exit_code=2,
        )
    try:
        root.mkdir(mode=0o700)
    except OSError as exc:
        raise DemoError(
            f"--dir {root}: cannot create it ({exc.strerror}). Choose a writable location",
            exit_code=2,
        ) from exc
    return Workspace(root, fs_type)


def _toml(value: object) -> str:
    """Format a string, int, bool or list of them as a TOML value."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)  # JSON string escapes are valid TOML basic strings
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


def config_text(
    workspace: Workspace,
    vault_url: str,
    refresh_interval: str,
    secrets: Sequence[Mapping[str, object]],
) -> str:
    """Return the agent config the demo runs with. It holds no secret: the token is a file."""
    lines = [
        "[agent]",
        f"output_dir = {_toml(str(workspace.output_dir))}",
        f"refresh_interval = {_toml(refresh_interval)}",
        'file_mode = "0400"',
        'dir_mode = "0700"',
        "",
        "[backend]",
        'type = "vault"',
        f"address = {_toml(vault_url)}",
        f'auth = {{ method = "token", token_file = {_toml(str(workspace.token_path))} }}',
    ]
    for spec in secrets:
        lines += ["", "[[secrets]]"]
        lines += [f"{key} = {_toml(value)}" for key, value in spec.items()]
    return "\n".join(lines) + "\n"


def write_private(path: Path, content: str) -> None:
    """Write ``content`` to a new file readable only by this user."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(content)
