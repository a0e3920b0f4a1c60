"""Shared fakes of the daemon tests (imported as ``daemon_fakes``): a scriptable in-memory
source and config builders."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

from secrets_agent.config.load import (
    AgentSettings,
    AuthConfig,
    Config,
    SecretSpec,
    VaultBackendConfig,
)
from secrets_agent.sources.base import SourceBase
from secrets_agent.sources.result import (
    AccessDeniedError,
    BackendUnavailableError,
    SecretData,
    SecretMissingError,
    SourceError,
)

MODES = ("ok", "down", "throttled", "missing", "denied")


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


def config(out: Path, specs: Sequence[SecretSpec], **agent: object) -> Config:
    return Config(
        agent=AgentSettings(output_dir=out, **agent),  # type: ignore[arg-type]
        backend=VaultBackendConfig(
            address="http://127.0.0.1:9", auth=AuthConfig(method="token", token="t")
        ),
        secrets=tuple(specs),
    )


def spec(path: str, interval: float = 300.0, **kw: object) -> SecretSpec:
    return SecretSpec(path=path, target=path, refresh_interval=interval, **kw)  # type: ignore[arg-type]
