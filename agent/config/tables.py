"""Typed reads from one TOML table that record every problem (with its key path) and go on.

Messages never repeat a configured value (a value might be a token); only user and group names,
which are not secret, are quoted back.
"""

from __future__ import annotations

import grp
import pwd
import re
from collections.abc import Mapping
from pathlib import Path

from secrets_agent.durations import parse_duration

_MODE_TEXT = re.compile(r"(?:0o|0)?([0-7]{1,4})")


class Problems:
    """An ordered list of ``"key.path: what is wrong"`` lines."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, key: str, message: str) -> None:
        self.items.append(f"{key}: {message}")


def type_name(value: object) -> str:
    """The TOML-ish name of ``value``'s type, for messages."""
    names = {bool: "a boolean", int: "an integer", float: "a number", str: "a string"}
    for kind, name in names.items():
        if type(value) is kind:
            return name
    if isinstance(value, list):
        return "an array"
    if isinstance(value, Mapping):
        return "a table"
    return "a " + type(value).__name__


class Table:
    """A table being read; keys never read are reported as unknown by :meth:`finish`."""

    def __init__(self, data: Mapping[str, object], prefix: str, problems: Problems) -> None:
        self.data = data
        self.prefix = prefix
        self.problems = problems
        self._seen: set[str] = set()

    def key(self, name: str) -> str:
        return f"{self.prefix}.{name}" if self.prefix else name

    def problem(self, name: str, message: str) -> None:
        self.problems.add(self.key(name), message)

    def has(self, name: str) -> bool:
        self._seen.add(name)
        return name in self.data

    def raw(self, name: str) -> object:
        self._seen.add(name)
        return self.data.get(name)

    def finish(self) -> None:
        for name in self.data:
            if name not in self._seen:
                self.problems.add(self.key(name), "unknown key")

    def string(self, name: str, *, required: bool = False) -> str | None:
        value = self.raw(name)
        if value is None:
            if required:
                self.problem(name, "is required")
            return None
        if not isinstance(value, str):
            self.problem(name, f"must be a string, not {type_name(value)}")
            return None
        if not value.strip():
            self.problem(name, "must not be empty")
            return None
        if any(ord(c) < 32 or ord(c) == 127 for c in value):
            self.problem(name, "must not contain control characters")
            return None
        return value

    def choice(self, name: str, choices: tuple[str, ...], default: str | None) -> str | None:
        value = self.raw(name)
        if value is None:
            if default is None:
                self.problem(name, "is required; must be one of " + ", ".join(choices))
            return default
        if not isinstance(value, str) or value not in choices:
            self.problem(name, "must be one of " + ", ".join(choices))
            return None
        return value

    def boolean(self, name: str, default: bool) -> bool:
        value = self.raw(name)
        if value is None:
            return default
        if not isinstance(value, bool):
            self.problem(name, f"must be true or false, not {type_name(value)}")
            return default
        return value

    def integer(self, name: str, default: int, low: int, high: int) -> int:
        value = self.raw(name)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            self.problem(name, f"must be an integer, not {type_name(value)}")
            return default
        if not low <= value <= high:
            self.problem(name, f"must be between {low} and {high}")
            return default
        return value

    def duration(self, name: str, default: float | None, *, positive: bool = True) -> float | None:
        value = self.raw(name)
        if value is None:
            return default
        try:
            seconds = parse_duration(value)
        except ValueError as exc:
            self.problem(name, str(exc))
            return default
        if positive and seconds <= 0:
            self.problem(name, "must be greater than zero")
            return default
        return seconds

    def mode(self, name: str) -> int | None:
        """A permission mode: ``"0400"``/``"400"``/``"0o400"`` or an integer (``0o400``)."""
        value = self.raw(name)
        if value is None:
            return None
        if isinstance(value, str) and (match := _MODE_TEXT.fullmatch(value.strip())):
            mode = int(match.group(1), 8)
        elif isinstance(value, int) and not isinstance(value, bool):
            mode = value
        else:
            self.problem(name, 'must be an octal string such as "0400" or an integer like 0o400')
            return None
        if not 0 <= mode <= 0o777:
            self.problem(name, "must be between 0000 and 0777 (no setuid, setgid or sticky bit)")
            return None
        return mode

    def principal(self, name: str, *, group: bool) -> int | None:
        """A user (or group) given by name or number, resolved to its numeric id."""
        value = self.raw(name)
        what = "group" if group else "user"
        if value is None:
            return None
        if isinstance(value, int) and not isinstance(value, bool):
            if 0 <= value < 2**32 - 1:
                return value
            self.problem(name, f"{what} id out of range")
            return None
        if not isinstance(value, str) or not value:
            self.problem(name, f"must be a {what} name or number")
            return None
        if value.isdigit():
            return int(value)
        try:
            return grp.getgrnam(value).gr_gid if group else pwd.getpwnam(value).pw_uid
        except KeyError:
            self.problem(name, f"unknown {what} {value!r}")
            return None

    def table(self, name: str, *, required: bool = False) -> Mapping[str, object] | None:
        value = self.raw(name)
        if value is None:
            if required:
                self.problem(name, "is required")
            return None
        if not isinstance(value, Mapping):
            self.problem(name, f"must be a table, not {type_name(value)}")
            return None
        return value

    def argv(self, name: str) -> tuple[str, ...] | None:
        value = self.raw(name)
        if value is None:
            return None
        if (
            not isinstance(value, list)
            or not value
            or not all(isinstance(v, str) and v for v in value)
        ):
            self.problem(
                name, "must be a non-empty array of strings (a command, run without shell)"
            )
            return None
        return tuple(value)

    def names(self, name: str) -> tuple[str, ...] | None:
        """A non-empty array of distinct, non-empty strings without control characters."""
        value = self.raw(name)
        if value is None:
            return None
        if not isinstance(value, list) or not value:
            self.problem(name, "must be a non-empty array of strings")
            return None
        if not all(isinstance(v, str) and v and v.isprintable() for v in value):
            self.problem(name, "every entry must be a non-empty string without control characters")
            return None
        if len(set(value)) != len(value):
            self.problem(name, "lists a name twice")
            return None
        return tuple(value)

    def abs_path(self, name: str, *, required: bool = False) -> Path | None:
        text = self.string(name, required=required)
        if text is None:
            return None
        if not text.startswith("/"):
            self.problem(name, "must be an absolute path")
            return None
        return Path(text)
