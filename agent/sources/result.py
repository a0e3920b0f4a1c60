"""What a fetch returns: a ``SecretData`` or one of the ``SourceError`` family.

Nothing here holds a secret value in its ``repr``: values live in ``SecretData`` whose
``repr`` names only the field names and the version.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from libs.secrets._core.failures import Failure, FailureKind
from libs.secrets._core.values import field_text


class SecretData:
    """One secret as fetched from a backend.

    ``fields`` is the secret's key/value object when the backend delivered one (Vault KV data,
    an AWS ``SecretString`` holding a JSON object); ``raw`` is the whole payload as text or
    bytes (an AWS plain string or ``SecretBinary``; for Vault the JSON of ``fields``).

    ``raw`` may be given as the decoded ``source_object`` instead: its JSON text is then made
    when first asked for (most formats never need it, and a refresh that changed nothing
    should not pay for encoding the secret again). Not to be changed after it is made.

    ``stamp`` identifies the version beyond its number, for a source that can later confirm
    the secret is still at it without reading it (``SecretSource.unchanged``); None otherwise.
    """

    __slots__ = ("_object", "_raw", "fields", "stamp", "version")

    def __init__(
        self,
        fields: Mapping[str, str] | None,
        raw: str | bytes | None = None,
        version: str | None = None,
        *,
        source_object: object = None,
        stamp: int | None = None,
    ) -> None:
        if raw is None and source_object is None:
            raise TypeError("SecretData needs raw or source_object")
        self.fields = fields
        self.version = version
        self.stamp = stamp
        self._raw = raw
        self._object = source_object

    @property
    def raw(self) -> str | bytes:
        raw = self._raw
        if raw is None:
            raw = self._raw = field_text(self._object)  # compact JSON, as the reader writes it
            self._object = None
        return raw

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SecretData):
            return NotImplemented
        return (self.fields, self.version, self.raw) == (other.fields, other.version, other.raw)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        names = sorted(self.fields) if self.fields is not None else None
        return f"SecretData(fields={names!r}, version={self.version!r}, raw=<redacted>)"

    __str__ = __repr__


class Unchanged:
    """What a refresh fetched when the source confirmed the secret is still at the version
    last fetched (``SecretSource.unchanged``): nothing to render or write."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "Unchanged()"


UNCHANGED = Unchanged()


class SourceError(Exception):
    """A backend could not deliver one secret. Messages never contain secret values.

    ``kind`` is the shared classification (``libs.secrets._core.failures``) of the failure, the
    same the reader gives the same answer; None for a failure no server answer explains.
    """

    retryable = True
    kind: ClassVar[FailureKind | None] = None

    def __init__(self, message: str, *, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path


class SecretMissingError(SourceError):
    """The backend says authoritatively that the secret (or a field) does not exist."""

    retryable = False
    kind = FailureKind.NOT_FOUND


class AccessDeniedError(SourceError):
    """The backend refused access (HTTP 403, AccessDeniedException)."""

    retryable = False
    kind = FailureKind.DENIED


class BackendUnavailableError(SourceError):
    """Transient: connection refused, timeout, 5xx, sealed, throttled."""

    kind = FailureKind.UNAVAILABLE

    def __init__(
        self, message: str, *, path: str | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message, path=path)
        self.retry_after = retry_after


class InvalidResponseError(SourceError):
    """The backend answered with something it should never send (wrong shape or type)."""


class AuthenticationError(SourceError):
    """Logging in to the backend failed (bad credentials, unreadable credential file).

    Retryable, unlike ``AccessDeniedError``: the credential (a rotated ``secret_id``, a
    projected token) may be replaced while the agent runs.
    """

    kind = FailureKind.DENIED


class ConfigurationError(SourceError):
    """The request or the configuration is wrong (bad region or endpoint, an unknown auth
    mount, a certificate that does not verify); repeating it cannot help."""

    retryable = False
    kind = FailureKind.INVALID


ERROR_CLASSES: dict[FailureKind, type[SourceError]] = {
    FailureKind.NOT_FOUND: SecretMissingError,
    FailureKind.DENIED: AccessDeniedError,
    FailureKind.UNAVAILABLE: BackendUnavailableError,
    FailureKind.INVALID: ConfigurationError,
}


def error_of(failure: Failure, message: str, *, path: str | None) -> SourceError:
    """The ``SourceError`` of a classified failure, with the agent's ``message``."""
    if failure.kind is FailureKind.UNAVAILABLE:
        return BackendUnavailableError(message, path=path, retry_after=failure.retry_after)
    return ERROR_CLASSES[failure.kind](message, path=path)
