"""Change listeners of the agent: callbacks told which secret's files changed.

A listener is called with a secret's target (never a value) once every file of that secret is
in place after a refresh that changed it, and after a reload removed its files. It runs on the
thread that did the work (a refresh job, ``sync_once`` or ``reload``), after the agent's lock
is released, so it should be quick (``secrets-agent exec`` only wakes its main loop). An
exception in a listener is logged and does not affect the refresh or the other listeners.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable

log = logging.getLogger(__name__)

ChangeListener = Callable[[str], None]


class ChangeListeners:
    """A thread-safe list of ``ChangeListener`` callbacks."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._listeners: tuple[ChangeListener, ...] = ()

    def add(self, listener: ChangeListener) -> None:
        """Call ``listener(target)`` after each later change (see the module docstring)."""
        with self._lock:
            self._listeners = (*self._listeners, listener)

    def remove(self, listener: ChangeListener) -> None:
        """Stop calling ``listener``; no-op if it was not added."""
        with self._lock:
            self._listeners = tuple(cb for cb in self._listeners if cb is not listener)

    def notify(self, targets: Iterable[str]) -> None:
        """Call every listener with each of ``targets``, in order; log their exceptions."""
        listeners = self._listeners
        if not listeners:
            return
        for target in targets:
            for listener in listeners:
                try:
                    listener(target)
                except Exception as exc:
                    log.error(
                        "change listener failed for %s: %s: %s", target, type(exc).__name__, exc
                    )
