"""In-memory secret sources and config builders for tests that run the agent without a backend.

- ``FakeSource``: serves what ``set`` put in (or an injected error for every path); records
  every ``fetch_many`` call.
- ``ScriptedSource``: every secret exists; ``mode`` makes every fetch fail one way.
- ``agent_config`` and ``spec``: a ``Config`` around some ``SecretSpec``s, with a Vault backend
  that is never contacted.
- ``batch_refresher``: a ``BatchRefresher`` over a table, a source and a fresh output directory.
"""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from secrets_agent.config import Config, SecretSpec
from secrets_agent.config.schema import AgentSettings, AuthConfig, VaultBackendConfig
from secrets_agent.daemon.batch import BatchRefresher
from secrets_agent.daemon.changes import ChangeListeners
from secrets_agent.daemon.table import SecretTable
from secrets_agent.sources.base import SecretSource, SourceBase
from secrets_agent.sources.result import (
    AccessDeniedError,
    BackendUnavailableError,
    SecretData,
    SecretMissingError,
    SourceError,
)
from secrets_agent.writer.writer import SecretWriter

MODES = ("ok", "down", "throttled", "missing", "denied")


class FakeSource(SourceBase):
    """Serves secrets from a dict (``set``, or any ``SourceError`` put into ``secrets``);
    ``error`` fails every path at once; ``calls`` records the paths of every call."""

    name = "fake"

    def __init__(self, batch_size: int = 1) -> None:
        self.batch_size = batch_size
        self.secrets: dict[str, SecretData | SourceError] = {}
        self.error: SourceError | None = None
        self.calls: list[tuple[str, ...]] = []
        self.lock = threading.Lock()
        self.closed = False

    def set(
        self,
        path: str,
        version: str = "1",
        fields: Mapping[str, str] | None = None,
        **more: str,
    ) -> None:
        values = {**(fields or {}), **more}
        with self.lock:
            self.secrets[path] = SecretData(fields=values, raw=json.dumps(values), version=version)

    def fetch_many(
        self, paths: Sequence[str], *, version_stage: str | None = None
    ) -> dict[str, SecretData | SourceError]:
        with self.lock:
            self.calls.append(tuple(paths))
            if self.error is not None:
                return dict.fromkeys(paths, self.error)
            return {
                p: self.secrets.get(p) or SecretMissingError("no such secret", path=p)
                for p in paths
            }

    def close(self) -> None:
        self.closed = True


class ScriptedSource(SourceBase):
    """Every secret exists (version = its fetch count); ``mode`` makes every fetch fail one way:
    ``down`` (sealed), ``throttled`` (Retry-After 3), ``missing``, ``denied``."""

    name = "scripted"

    def __init__(self, batch_size: int = 1) -> None:
        self.batch_size = batch_size
        self.mode = "ok"
        self.fetched: dict[str, int] = {}
        self.calls = 0
        self.lock = threading.Lock()

    def fetch_many(
        self, paths: Sequence[str], *, version_stage: str | None = None
    ) -> dict[str, SecretData | SourceError]:
        with self.lock:
            self.calls += 1
            out: dict[str, SecretData | SourceError] = {}
            for p in paths:
                if self.mode == "down":
                    out[p] = BackendUnavailableError("sealed", path=p)
                elif self.mode == "throttled":
                    out[p] = BackendUnavailableError("throttled", path=p, retry_after=3.0)
                elif self.mode == "missing":
                    out[p] = SecretMissingError("gone", path=p)
                elif self.mode == "denied":
                    out[p] = AccessDeniedError("denied", path=p)
                else:
                    self.fetched[p] = self.fetched.get(p, 0) + 1
                    out[p] = SecretData(fields={"k": "v"}, raw="{}", version="1")
            return out


def agent_config(
    out: Path, specs: Iterable[SecretSpec], *, backend: Any = None, **agent: Any
) -> Config:
    """A config writing ``specs`` below ``out``; ``agent`` sets ``[agent]`` fields."""
    return Config(
        agent=AgentSettings(output_dir=out, **agent),
        backend=backend
        or VaultBackendConfig(
            address="http://127.0.0.1:9", auth=AuthConfig(method="token", token="t")
        ),
        secrets=tuple(specs),
    )


def spec(path: str, interval: float = 300.0, **kw: Any) -> SecretSpec:
    """A secret spec with ``target`` defaulting to ``path``."""
    return SecretSpec(path=path, target=kw.pop("target", path), refresh_interval=interval, **kw)


def batch_refresher(
    table: SecretTable,
    source: SecretSource,
    output_dir: Path,
    *,
    clock: Callable[[], float],
    seed: int = 1,
) -> BatchRefresher:
    """A ``BatchRefresher`` over ``table`` that reads ``source`` and writes into a prepared
    ``output_dir`` (no templates, no listeners)."""
    writer = SecretWriter(output_dir)
    writer.prepare()
    return BatchRefresher(
        table,
        source=lambda: source,
        writer=lambda: writer,
        listeners=ChangeListeners(),
        on_change_timeout=lambda: 5.0,
        clock=clock,
        rng=random.Random(seed),
    )
