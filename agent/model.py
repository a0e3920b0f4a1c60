"""Types shared by the agent's sources, renderers, writer, refresh logic and status.

Nothing here holds a secret value in its ``repr``: values live in ``SecretData`` whose
``repr`` names only the field names and the version.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True, repr=False)
class SecretData:
    """One secret as fetched from a backend.

    ``fields`` is the secret's key/value object when the backend delivered one (Vault KV data,
    an AWS ``SecretString`` holding a JSON object); ``raw`` is the whole payload as text or
    bytes (an AWS plain string or ``SecretBinary``; for Vault the JSON of ``fields``).
    """

    fields: Mapping[str, str] | None
    raw: str | bytes
    version: str | None = None

    def __repr__(self) -> str:
        names = sorted(self.fields) if self.fields is not None else None
        return f"SecretData(fields={names!r}, version={self.version!r}, raw=<redacted>)"

    __str__ = __repr__


class SourceError(Exception):
    """A backend could not deliver one secret. Messages never contain secret values."""

    retryable = True

    def __init__(self, message: str, *, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path


class SecretMissingError(SourceError):
    """The backend says authoritatively that the secret (or a field) does not exist."""

    retryable = False


class AccessDeniedError(SourceError):
    """The backend refused access (HTTP 403, AccessDeniedException)."""

    retryable = False


class BackendUnavailableError(SourceError):
    """Transient: connection refused, timeout, 5xx, sealed, throttled."""

    def __init__(
        self, message: str, *, path: str | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message, path=path)
        self.retry_after = retry_after


class InvalidResponseError(SourceError):
    """The backend answered with something it should never send (wrong shape or type)."""


class AuthenticationError(SourceError):
    """Logging in to the backend failed (bad credentials, unreadable credential file)."""


class RenderError(Exception):
    """A fetched secret cannot be rendered in the configured format (missing field, ...)."""


@dataclass
class SecretState:
    """Non-secret bookkeeping for one configured secret; serialised into ``.status.json``."""

    path: str
    target: str
    version: str | None = None
    fetched_at: float | None = None  # wall-clock time of the last successful fetch
    changed_at: float | None = None  # wall-clock time the files last changed
    last_attempt_at: float | None = None
    next_refresh_at: float | None = None
    last_error: str | None = None
    consecutive_failures: int = 0
    errors_total: int = 0
    fetch_seconds: float | None = None  # latency of the last fetch
    missing: bool = False  # the backend now reports the secret missing; files kept
    files: list[str] = field(default_factory=list)  # paths relative to output_dir
