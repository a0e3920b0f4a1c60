"""The agent's source: built lazily from ``[backend]``, replaced on reload, closed on stop.

A source that cannot be built (no AWS region, an unreadable CA file) does not stop the agent:
``get`` hands out an ``UnavailableSource`` that fails every secret with the
``SourceSetupError`` that says why, and building is tried again ``SETUP_RETRY`` seconds later.
Every source it hands out has been told the paths the agent will ask about (``expect``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

from secrets_agent.sources.base import (
    SecretSource,
    SourceSetupError,
    UnavailableSource,
    create_source,
)

if TYPE_CHECKING:
    from secrets_agent.config.load import AwsBackendConfig, VaultBackendConfig

__all__ = ["SourceHolder"]

log = logging.getLogger(__name__)

SETUP_RETRY = 10.0


class SourceHolder:
    """Owns the source it builds; an injected source belongs to the caller (never closed)."""

    def __init__(
        self,
        backend: VaultBackendConfig | AwsBackendConfig,
        *,
        concurrency: int,
        source: SecretSource | None = None,
    ) -> None:
        self._backend = backend
        self._concurrency = concurrency
        self._source = source
        self._owned = source is None
        self._lock = threading.Lock()
        self._failed: tuple[float, UnavailableSource] | None = None
        self._expected: tuple[str, ...] = ()

    def expect(self, paths: Iterable[str]) -> None:
        """The KV paths the agent will ask about, for this source and every one built later
        (``SecretSource.expect``)."""
        with self._lock:
            self._expected = tuple(paths)
            source = self._source
        if source is not None:
            source.expect(self._expected)

    def get(self) -> SecretSource:
        """The source (built now if needed), or an ``UnavailableSource`` saying why not."""
        with self._lock:
            if self._source is not None:
                return self._source
            if self._failed is not None and time.monotonic() < self._failed[0] + SETUP_RETRY:
                return self._failed[1]
            try:
                self._source = create_source(self._backend, concurrency=self._concurrency)
            except SourceSetupError as exc:
                log.error("%s", exc)
                self._failed = (time.monotonic(), UnavailableSource(str(exc)))
                return self._failed[1]
            self._failed = None
            self._source.expect(self._expected)
            return self._source

    def replace(self, backend: VaultBackendConfig | AwsBackendConfig) -> None:
        """Use ``backend`` from now on: an owned source is closed and built again when next
        needed; an injected one is kept."""
        with self._lock:
            self._backend = backend
            self._failed = None
            if self._owned and self._source is not None:
                self._source.close()
                self._source = None

    def close(self) -> None:
        """Close an owned source (it is built again if used after this)."""
        with self._lock:
            if self._owned and self._source is not None:
                self._source.close()
                self._source = None
