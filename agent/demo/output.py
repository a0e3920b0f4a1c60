"""What ``secrets-agent demo`` prints: masked values, numbered steps, timings and the file tree.

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
    """Return ``'abc… (32 chars)'``: the length and at most the first three characters.

    Short values show fewer (a quarter of the length at most), so ``'app'`` is just
    ``'… (3 chars)'``: the mask never gives away most of a value.
    """
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
    shown = min(MASK_PREFIX, len(text) // 4)
    head = "".join(c if c.isprintable() and not c.isspace() else "?" for c in text[:shown])
    unit = "bytes" if isinstance(value, bytes) else "chars"
    return f"{head}\u2026 ({len(value)} {unit})"


def format_elapsed(seconds: float) -> str:
    """Human duration: ``'850 us'``, ``'3.2 ms'``, ``'1.41 s'``."""
    if seconds < 1e-6:
        return f"{seconds * 1e9:.0f} ns"
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
    """List ``root`` recursively as ``mode owner:group size name  value``, values masked.

    Directories come first at each level; the agent's own dot files are listed but their
    content is not shown (they hold no secret values, only state).
    """
    rows: list[tuple[os.stat_result, str, str]] = [(root.lstat(), f"{root}/", "")]

    def walk(directory: Path, depth: int) -> None:
        entries = sorted(directory.iterdir(), key=lambda p: (not p.is_dir(), p.name))
        for entry in entries:
            st = entry.lstat()
            name = "  " * depth + entry.name
            if stat.S_ISDIR(st.st_mode):
                rows.append((st, name + "/", ""))
                walk(entry, depth + 1)
            elif entry.name.startswith("."):
                rows.append((st, name, "(the agent's state, no values)"))
            else:
                rows.append((st, name, mask(entry.read_bytes())))

    walk(root, 1)
    width = max(len(name) for _, name, _ in rows[1:]) if len(rows) > 1 else 0
    lines = []
    for st, name, note in rows:
        owner = f"{_user(st.st_uid)}:{_group(st.st_gid)}"
        size = "" if stat.S_ISDIR(st.st_mode) else str(st.st_size)
        text = f"{name:<{width}}  {note}" if note else name
        lines.append(f"   {stat.filemode(st.st_mode)} {owner:<12} {size:>5}  {text}".rstrip())
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
