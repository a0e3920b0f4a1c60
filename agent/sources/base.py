"""What every backend looks like to the agent, and helpers the backends share."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
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


class SourceSetupError(SourceError):
    """The source could not be built from its config (a missing region, an SDK that will not
    load, an unreadable CA file). Not a login failure: nothing was sent to the backend."""


@runtime_checkable
class SecretSource(Protocol):
    """A backend the agent reads secrets from.

    ``fetch_many`` never raises for one secret's problem: each path maps to its ``SecretData`` or
    to the ``SourceError`` that explains why it could not be read. ``version_stage`` asks for a
    version stage (AWS); sources without stages ignore it, and the agent only passes it when a
    secret names one.

    ``batch_size`` is the most paths one ``fetch_many`` call should carry: the agent groups
    secrets that fall due together into calls of at most that many paths (AWS reads 20 with one
    ``BatchGetSecretValue``); with 1 it spreads due secrets over its own worker threads.

    ``maintain`` is the source's housekeeping hook (Vault renews its token there): it returns
    the seconds until the next call is useful, or None when nothing is due (the agent asks
    again after a quiet minute). Sources without housekeeping return None.

    ``unchanged`` saves reads: of ``known`` (path -> the ``SecretData.stamp`` last fetched), it
    returns the paths the source can tell, by evidence at most ``max_age`` seconds old, are
    still at that version (Vault KV v2 on OpenBao, from directory listings). ``expect`` tells
    the source every path the agent will ask about (at start and on reload). Sources that
    cannot tell return an empty set; ``unchanged`` never raises.
    """

    name: str
    batch_size: int

    def fetch_many(
        self, paths: Sequence[str], *, version_stage: str | None = None
    ) -> FetchResult: ...

    def maintain(self) -> float | None: ...

    def expect(self, paths: Iterable[str]) -> None: ...

    def unchanged(self, known: Mapping[str, int], *, max_age: float) -> set[str]: ...

    def close(self) -> None: ...


class SourceBase:
    """Defaults of the optional parts of ``SecretSource`` for sources that need nothing more:
    one path a call, no housekeeping, no confirmation without a read, nothing to close."""

    name = "source"
    batch_size = 1

    def maintain(self) -> float | None:
        """Nothing to maintain."""
        return None

    def expect(self, paths: Iterable[str]) -> None:
        """Nothing to prepare."""

    def unchanged(self, known: Mapping[str, int], *, max_age: float) -> set[str]:
        """Nothing can be confirmed without reading it."""
        return set()

    def close(self) -> None:
        """Nothing to release."""


class UnavailableSource(SourceBase):
    """Stands in for a source that could not be built: every path fails with the
    ``SourceSetupError`` that says why, so each secret reports it and retries with backoff."""

    name = "unavailable"

    def __init__(self, error: str) -> None:
        self._error = error

    def fetch_many(self, paths: Sequence[str], *, version_stage: str | None = None) -> FetchResult:
        return {p: SourceSetupError(self._error, path=p) for p in paths}


def create_source(
    backend: VaultBackendConfig | AwsBackendConfig, *, concurrency: int = 8
) -> SecretSource:
    """Build the source for a ``[backend]`` config; imports hvac or boto3 only when needed.

    Raises ``SourceSetupError`` when the source cannot be built (its message names the backend
    and the cause, never a credential).
    """
    from secrets_agent.config.schema import AwsBackendConfig, VaultBackendConfig

    try:
        if isinstance(backend, VaultBackendConfig):
            from secrets_agent.sources.vault.source import VaultSource

            return VaultSource(backend, concurrency=concurrency)
        if isinstance(backend, AwsBackendConfig):
            from secrets_agent.sources.aws.source import AwsSource

            return AwsSource(backend, concurrency=concurrency)
    except Exception as exc:
        raise SourceSetupError(f"cannot set up the {backend.type} client: {exc}") from exc
    raise SourceSetupError(f"unknown backend type {backend.type!r} (valid: vault, aws)")


def split_path(path: str) -> tuple[str, str]:
    """A backend path's directory and key: ``a/b/c`` -> (``a/b/``, ``c``); a top-level key
    lives in directory ``""``. Secrets of one directory can share one listing
    (``SecretSource.unchanged``)."""
    directory, slash, key = path.rpartition("/")
    return directory + slash, key


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
    bound = 2  # at most this many bytes of JSON: each character encodes to 6 at most
    for key, value in obj.items():
        if not isinstance(key, str):
            raise InvalidResponseError(f"secret {path!r}: a field name is not a string", path=path)
        text = fields[key] = value if type(value) is str else _field_text(value)
        bound += 6 * (len(key) + len(text) + 3)
    if raw is not None:
        check_size(raw, path=path)
        return SecretData(fields=fields, raw=raw, version=version)
    data = SecretData(fields=fields, version=version, source_object=obj)
    if bound > MAX_SECRET_BYTES:  # large: measure the real text
        check_size(data.raw, path=path)
    return data


def check_size(raw: str | bytes, *, path: str) -> None:
    """Raise InvalidResponseError when a payload is larger than ``MAX_SECRET_BYTES``."""
    size = len(raw.encode()) if isinstance(raw, str) else len(raw)
    if size > MAX_SECRET_BYTES:
        raise InvalidResponseError(
            f"secret {path!r}: the backend's answer holds {size} bytes, more than the"
            f" {MAX_SECRET_BYTES // 2**20} MiB one secret may have",
            path=path,
        )
