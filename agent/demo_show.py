"""Output helpers for ``secrets-agent demo``: masking, step headers and the file tree.

Nothing here ever prints a whole secret value: ``mask`` keeps at most the first three
characters and the length.
"""

from __future__ import annotations

import grp
import os
import pwd
import stat
import sys
from pathlib import Path
from typing import TextIO

MASK_PREFIX = 3


def mask(value: str | bytes) -> str:
    """Return ``'abc… (32 chars)'``: the first three printable characters and the length."""
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
    head = "".join(c if c.isprintable() and not c.isspace() else "?" for c in text[:MASK_PREFIX])
    unit = "bytes" if isinstance(value, bytes) else "chars"
    return f"{head}\u2026 ({len(value)} {unit})"


def format_duration(seconds: float) -> str:
    """Human duration: ``'850 us'``, ``'3.2 ms'``, ``'1.41 s'``."""
    if seconds < 0.001:
        return f"{seconds * 1e6:.0f} us"
    if seconds < 1:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds:.2f} s"


def _user(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def _group(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def tree_lines(root: Path) -> list[str]:
    """List ``root`` recursively as ``mode owner:group size name  content``, values masked.

    Directories come first at each level; the agent's own dot files are listed but their
    content is not shown (they hold no secret values, only state).
    """
    lines: list[str] = []

    def describe(path: Path, display: str) -> str:
        st = path.lstat()
        owner = f"{_user(st.st_uid)}:{_group(st.st_gid)}"
        mode = stat.filemode(st.st_mode)
        size = "" if stat.S_ISDIR(st.st_mode) else str(st.st_size)
        return f"  {mode} {owner:<12} {size:>5}  {display}"

    def walk(directory: Path, depth: int) -> None:
        entries = sorted(directory.iterdir(), key=lambda p: (not p.is_dir(), p.name))
        for entry in entries:
            indent = "    " * depth
            if entry.is_dir() and not entry.is_symlink():
                lines.append(describe(entry, f"{indent}{entry.name}/"))
                walk(entry, depth + 1)
                continue
            if entry.name.startswith("."):
                note = "(agent state, no values)"
            else:
                note = mask(entry.read_bytes())
            lines.append(
                describe(entry, f"{indent}{entry.name:<{max(1, 24 - len(indent))}} {note}")
            )

    lines.append(describe(root, f"{root}/"))
    walk(root, 1)
    return lines


class Printer:
    """Numbered steps with a short explanation, written to a text stream."""

    def __init__(self, out: TextIO | None = None) -> None:
        self._out = out if out is not None else sys.stdout
        self._step = 0

    def step(self, title: str, *explanation: str) -> None:
        """Start a new numbered step."""
        self._step += 1
        self.line()
        self.line(f"== {self._step}. {title}")
        for text in explanation:
            self.line(f"   {text}")

    def line(self, text: str = "") -> None:
        """Print one line and flush, so the output follows the demo as it runs."""
        self._out.write(text + os.linesep)
        self._out.flush()

    def item(self, text: str) -> None:
        """Print an indented result line."""
        self.line(f"   - {text}")
