"""What every backend looks like to the agent, and helpers the backends share."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from libs.secrets._core.values import NestingTooDeepError, field_text
from secrets_agent.sources.result import InvalidResponseError, SecretData, SourceError

if TYPE_CHECKING:
    from secrets_agent.config.load import AwsBackendConfig, VaultBackendConfig

# The most one backend answer's secret may hold: Vault's and OpenBao's default request limit
# (listener ``max_request_size``, 32 MiB), so no secret written to a server with its defaults
# is refused here (AWS caps SecretString at 64 KiB). What the agent writes is limited per
# secret by ``max_bytes`` (default 1 MiB), a documented and settable limit.
MAX_SECRET_BYTES = 32 * 1024 * 1024

FetchResult = dict[str, SecretData | SourceError]


@runtime_checkable
class SecretSource(Protocol):
    """A backend the agent reads secrets from.

    ``fetch_many`` never raises for one secret's problem: each path maps to its ``SecretData`` or
    to the ``SourceError`` that explains why it could not be read. Sources that support version
    stages (AWS) also accept ``fetch_many(paths, version_stage="AWSPREVIOUS")``; the agent only
    passes that keyword when a secret asks for a stage.
    """

    name: str

    def fetch_many(self, paths: Sequence[str]) -> FetchResult: ...

    def close(self) -> None: ...


def create_source(
    backend: VaultBackendConfig | AwsBackendConfig, *, concurrency: int = 8
) -> SecretSource:
    """Build the source for a ``[backend]`` config; imports hvac or boto3 only when needed."""
    if backend.type == "vault":
        from secrets_agent.sources.vault.source import VaultSource

        return VaultSource(backend, concurrency=concurrency)  # type: ignore[arg-type]
    if backend.type == "aws":
        from secrets_agent.sources.aws.source import AwsSource

        return AwsSource(backend, concurrency=concurrency)  # type: ignore[arg-type]
    raise ValueError(f"unknown backend type {backend.type!r} (valid: vault, aws)")


def fetch_concurrently(
    paths: Sequence[str],
    fetch_one: Callable[[str], SecretData | SourceError],
    *,
    concurrency: int,
) -> FetchResult:
    """Call ``fetch_one`` for each distinct path on a bounded pool (inline for one path)."""
    unique = list(dict.fromkeys(paths))
    if len(unique) <= 1 or concurrency <= 1:
        return {p: fetch_one(p) for p in unique}
    with ThreadPoolExecutor(
        max_workers=min(concurrency, len(unique)), thread_name_prefix="fetch"
    ) as pool:
        return dict(zip(unique, pool.map(fetch_one, unique), strict=True))


def _field_text(value: object) -> str:
    # Numbers, booleans, null and nested objects become their JSON text, as the reader's.
    try:
        return field_text(value)
    except NestingTooDeepError as exc:
        raise InvalidResponseError(str(exc)) from None


def data_from_object(
    obj: object, *, path: str, version: str | None, raw: str | bytes | None = None
) -> SecretData:
    """Turn a backend's key/value object into ``SecretData``.

    Field values that are not strings become their JSON text; ``raw`` defaults to the JSON of
    the object. Raises InvalidResponseError when ``obj`` is not an object or is too large.
    """
    if not isinstance(obj, Mapping):
        raise InvalidResponseError(
            f"secret {path!r}: expected a JSON object, got {type(obj).__name__}", path=path
        )
    fields: dict[str, str] = {}
    for key, value in obj.items():
        if not isinstance(key, str):
            raise InvalidResponseError(f"secret {path!r}: a field name is not a string", path=path)
        fields[key] = _field_text(value)
    if raw is None:
        raw = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    check_size(raw, path=path)
    return SecretData(fields=fields, raw=raw, version=version)


def check_size(raw: str | bytes, *, path: str) -> None:
    """Raise InvalidResponseError when a payload is larger than ``MAX_SECRET_BYTES``."""
    size = len(raw.encode()) if isinstance(raw, str) else len(raw)
    if size > MAX_SECRET_BYTES:
        raise InvalidResponseError(
            f"secret {path!r}: the backend's answer holds {size} bytes, more than the"
            f" {MAX_SECRET_BYTES // 2**20} MiB one secret may have",
            path=path,
        )
