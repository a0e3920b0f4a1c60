"""In-memory KV engines: version 1 (plain map) and version 2 (versions, soft delete, destroy).

Not thread-safe by themselves: the caller holds the server state's lock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from secrets_agent.devserver.wire import now_ns

DEFAULT_MAX_VERSIONS = 10


class KVError(Exception):
    """A request the engine rejects; the message is Vault's error text (never a value)."""


def list_children(keys: Any, prefix: str) -> list[str]:
    """Direct children of ``prefix`` among ``keys``; sub-folders end in ``/``; sorted."""
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    found: set[str] = set()
    for key in keys:
        if key.startswith(prefix):
            rest = key[len(prefix) :]
            head, sep, _ = rest.partition("/")
            if head:
                found.add(head + sep)
    return sorted(found)


class KVv1:
    """KV version 1: a flat map of path -> object."""

    version = 1

    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {}

    def read(self, path: str) -> dict[str, Any] | None:
        return self.items.get(path)

    def write(self, path: str, data: dict[str, Any]) -> None:
        self.items[path] = dict(data)

    def delete(self, path: str) -> None:
        self.items.pop(path, None)

    def list(self, prefix: str) -> list[str]:
        return list_children(self.items, prefix)


@dataclass(slots=True)
class Version:
    """One version of a KV v2 secret; ``data`` is ``None`` once destroyed."""

    data: dict[str, Any] | None
    created_ns: int
    deleted_ns: int = 0
    destroyed: bool = False

    def is_deleted(self, now: int) -> bool:
        return bool(self.deleted_ns) and self.deleted_ns <= now


@dataclass(slots=True)
class Entry:
    """Key-level metadata of a KV v2 secret and its versions."""

    created_ns: int
    updated_ns: int
    versions: dict[int, Version] = field(default_factory=dict)
    current: int = 0
    oldest: int = 0
    max_versions: int = 0
    cas_required: bool = False
    delete_version_after: float = 0.0
    custom_metadata: dict[str, str] | None = None
    metadata_version: int = 0  # metadata writes so far (OpenBao's metadata check-and-set)
    metadata_cas_required: bool = False


class KVv2:
    """KV version 2: versioned secrets with metadata, soft delete, undelete and destroy."""

    version = 2

    def __init__(self) -> None:
        self.entries: dict[str, Entry] = {}
        self.max_versions = 0
        self.cas_required = False
        self.delete_version_after = 0.0

    def get(self, path: str) -> Entry | None:
        return self.entries.get(path)

    def read(self, path: str, version: int = 0) -> tuple[Entry, Version, int] | None:
        """(entry, version, number) or ``None`` when the key or version does not exist."""
        entry = self.entries.get(path)
        if entry is None:
            return None
        number = version or entry.current
        found = entry.versions.get(number)
        return None if found is None else (entry, found, number)

    def write(self, path: str, data: dict[str, Any], cas: int | None = None) -> tuple[Entry, int]:
        """Add a version; enforce check-and-set; prune beyond max_versions."""
        entry = self.entries.get(path)
        now = now_ns()
        cas_required = self.cas_required or (entry is not None and entry.cas_required)
        if cas is None and cas_required:
            raise KVError("check-and-set parameter required for this call")
        current = entry.current if entry is not None else 0
        if cas is not None and cas != current:
            raise KVError("check-and-set parameter did not match the current version")
        if entry is None:
            entry = self.entries[path] = Entry(created_ns=now, updated_ns=now)
        number = entry.current + 1
        after = entry.delete_version_after or self.delete_version_after
        deleted = now + int(after * 1e9) if after else 0
        entry.versions[number] = Version(dict(data), now, deleted_ns=deleted)
        entry.current = number
        entry.updated_ns = now
        limit = entry.max_versions or self.max_versions or DEFAULT_MAX_VERSIONS
        while len(entry.versions) > limit:
            oldest = min(entry.versions)
            del entry.versions[oldest]
            entry.oldest = min(entry.versions)
        return entry, number

    def _targets(self, path: str, versions: list[int] | None) -> list[Version]:
        entry = self.entries.get(path)
        if entry is None:
            return []
        numbers = [entry.current] if versions is None else versions
        return [entry.versions[n] for n in numbers if n in entry.versions]

    def soft_delete(self, path: str, versions: list[int] | None = None) -> None:
        """Mark versions (default: the current one) deleted now."""
        now = now_ns()
        for found in self._targets(path, versions):
            if not found.destroyed and not found.is_deleted(now):
                found.deleted_ns = now

    def undelete(self, path: str, versions: list[int]) -> None:
        for found in self._targets(path, versions):
            if not found.destroyed:
                found.deleted_ns = 0

    def destroy(self, path: str, versions: list[int]) -> None:
        for found in self._targets(path, versions):
            found.destroyed = True
            found.data = None

    def delete_metadata(self, path: str) -> None:
        self.entries.pop(path, None)

    def list(self, prefix: str, exclude_deleted: bool = False) -> list[str]:
        keys: Any = self.entries
        if exclude_deleted:
            now = now_ns()
            keys = [
                key
                for key, entry in self.entries.items()
                if (v := entry.versions.get(entry.current)) is not None
                and not v.destroyed
                and not v.is_deleted(now)
            ]
        return list_children(keys, prefix)
