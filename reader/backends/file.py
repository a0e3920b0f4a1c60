"""``FileSecretManager``: secrets from the files the agent writes (or systemd credentials).

``get_secret("alpaca/api_key_id")`` returns the exact content of
``<SECRETS_DIR>/alpaca/api_key_id`` decoded as UTF-8, or of ``<SECRETS_DIR>/alpaca_api_key_id``
(systemd's name for that file in a ``LoadCredential=`` directory). A watchdog observer, started
with the first file read, invalidates changed keys as soon as a file is replaced, so rotations
are seen within milliseconds whatever the TTL; the TTL bounds staleness when no event arrives.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Hashable, Mapping
from pathlib import Path

from ..config import FileConfig
from ..files import credential_name, read_secret_file
from ..manager import SecretManager, get_logger
from ..watch import DirectoryWatcher

_WATCH_CHECK_SECONDS = 1.0


class FileSecretManager(SecretManager):
    """Reads secrets from files under a directory; ``config`` may be just the directory."""

    backend = "file"

    def __init__(
        self,
        config: FileConfig | Mapping[str, object] | str | os.PathLike[str] | None = None,
        *,
        ttl_seconds: float | None = None,
        timer: Callable[[], float] = time.monotonic,
        refresh_ahead: float | None = None,
        watch: bool = True,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        env = os.environ if environ is None else environ
        if isinstance(config, str | os.PathLike):
            config = {"directory": os.fspath(config)}
        self.config = FileConfig.resolve(config, env)
        self.directory: Path = self.config.directory
        super().__init__(
            ttl_seconds=ttl_seconds, timer=timer, environ=env, refresh_ahead=refresh_ahead
        )
        self._watch_enabled = watch
        self._watcher: DirectoryWatcher | None = None
        self._watch_lock = threading.Lock()
        self._watch_warned = False
        self._watch_checked_until = 0.0  # monotonic time until which the watcher counts as up

    @property
    def watching(self) -> bool:
        """Whether the change observer is running."""
        watcher = self._watcher
        return watcher is not None and watcher.healthy

    def _fetch(self, key: str, secret_path: str, field: str) -> str:
        self._ensure_watching()
        return read_secret_file(self.directory, key, backend=self.backend)

    def _ensure_watching(self) -> None:
        if not self._watch_enabled or self._closed:
            return
        # Checking the observer's threads costs more than the file read itself, so a healthy
        # watcher is taken as up for a second; a restart invalidates the whole cache anyway.
        now = time.monotonic()
        if now < self._watch_checked_until:
            return
        if self.watching:
            self._watch_checked_until = now + _WATCH_CHECK_SECONDS
            return
        with self._watch_lock:
            if self._closed or self.watching:
                return
            restarting = self._watcher is not None
            watcher = self._watcher or DirectoryWatcher(self.directory, self._on_change)
            try:
                watcher.start()
            except ImportError:
                self._watch_enabled = False
                get_logger().warning(
                    "watchdog is not installed; secret file changes are seen only after the "
                    "cache TTL (%ss)",
                    self.ttl_seconds,
                )
                return
            except OSError as exc:
                logger = get_logger()
                log = logger.debug if self._watch_warned else logger.warning
                self._watch_warned = True
                log(
                    "cannot watch %s for changes (%s); relying on the cache TTL (%ss)",
                    self.directory,
                    exc.strerror or exc,
                    self.ttl_seconds,
                )
                return
            self._watcher = watcher
            if restarting:  # events may have been missed while it was down
                self._cache.invalidate_where(lambda _key: True)

    def _on_change(self, relative: str) -> None:
        parts = relative.split("/")
        if relative == "." or any(part.startswith("..") for part in parts):
            # The root itself, or a Kubernetes-style "..data" swap: anything may have changed.
            self._cache.invalidate_where(lambda _key: True)
            return
        if any(part.startswith(".") for part in parts):
            return  # the agent's own temp and status files
        name = "/".join(parts)
        prefix = name + "/"

        def affected(key: Hashable) -> bool:
            return isinstance(key, str) and (
                key == name or key.startswith(prefix) or credential_name(key) == name
            )

        self._cache.invalidate_where(affected)

    def _close(self) -> None:
        super()._close()
        with self._watch_lock:
            watcher, self._watcher = self._watcher, None
        if watcher is not None:
            watcher.stop()

    def _describe(self) -> str:
        return f"directory={os.fspath(self.directory)!r}"


__all__ = ["FileSecretManager"]
