"""A lazy watchdog observer on the secrets directory that reports changed paths.

``DirectoryWatcher.start()`` imports watchdog only then, schedules a recursive watch and starts
the observer as a daemon thread; inotify watches are in place when ``start()`` returns, so a
file read after it cannot miss a later change. Each create/modify/move/delete/attrib/close
event calls ``on_change(relative_path)`` (for a move, both names); the root itself being moved
or deleted reports ``"."``.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path

from .logger import get_logger

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_RELEVANT = frozenset({"created", "modified", "moved", "deleted", "attrib", "closed"})
_DIRECTORY_CHANGES = frozenset({"created", "moved", "deleted"})


class DirectoryWatcher:
    """Watches one directory tree; ``start``/``stop``/``healthy``."""

    def __init__(self, directory: Path | str, on_change: Callable[[str], None]) -> None:
        self._directory = os.path.realpath(os.fspath(directory))
        self._on_change = on_change
        self._observer: Any = None
        self._lock = threading.Lock()

    @property
    def healthy(self) -> bool:
        """Whether the observer thread and its emitter are running."""
        observer = self._observer
        if observer is None or not observer.is_alive():
            return False
        emitters = list(observer.emitters)
        return bool(emitters) and all(emitter.is_alive() for emitter in emitters)

    def start(self) -> None:
        """Start (or restart) watching. Raises ``ImportError`` or ``OSError`` on failure."""
        with self._lock:
            if self.healthy:
                return
            self._stop_locked()
            from watchdog import events as ev
            from watchdog.observers import Observer

            directory = self._directory
            report = self._report

            class _Handler(ev.FileSystemEventHandler):
                def on_any_event(self, event: Any) -> None:
                    kind = event.event_type
                    if kind not in _RELEVANT:
                        return
                    if event.is_directory and kind not in _DIRECTORY_CHANGES:
                        return  # a directory "modified" just means a child changed
                    report(event.src_path)
                    dest = getattr(event, "dest_path", "")
                    if dest:
                        report(dest)

            observer = Observer()
            observer.daemon = True
            observer.name = f"libs.secrets watcher {directory}"
            # Subscribe only to changes: without a filter inotify also reports every open and
            # every read-only close, so each get_secret miss would wake the observer thread.
            changes = [
                ev.FileCreatedEvent,
                ev.DirCreatedEvent,
                ev.FileModifiedEvent,
                ev.FileMovedEvent,
                ev.DirMovedEvent,
                ev.FileDeletedEvent,
                ev.DirDeletedEvent,
                ev.FileClosedEvent,
            ]
            observer.schedule(_Handler(), directory, recursive=True, event_filter=changes)
            try:
                observer.start()
            except BaseException:
                observer.stop()
                raise
            self._observer = observer
            get_logger().debug("watching %s for secret file changes", directory)

    def _report(self, path: str | bytes) -> None:
        text = os.fsdecode(path)
        relative = os.path.relpath(text, self._directory)
        if relative == ".." or relative.startswith(".." + os.sep):
            return  # outside the tree
        try:
            self._on_change(relative)
        except Exception:  # a bug in the callback must not kill the observer thread
            get_logger().exception("secret file change handler failed")

    def stop(self, timeout: float = 2.0) -> None:
        """Stop the observer and wait up to ``timeout`` seconds for its thread."""
        with self._lock:
            self._stop_locked(timeout)

    def _stop_locked(self, timeout: float = 2.0) -> None:
        observer, self._observer = self._observer, None
        if observer is not None:
            observer.stop()
            if observer.is_alive():
                observer.join(timeout)


__all__ = ["DirectoryWatcher"]
