"""Read secrets from AWS Secrets Manager through boto3.

Secrets are read with ``BatchGetSecretValue`` in groups of up to 20 (one call instead of 20);
the agent falls back to ``GetSecretValue`` per secret when batching is denied or unsupported, for
a single secret, and for a ``VersionStage`` other than ``AWSCURRENT`` (batch reads cannot take
one). The client uses botocore's standard retry mode and explicit timeouts. A path may be a
name (``prod/db``, ``/prod/db``) or a secret ARN, full or partial (without the random suffix);
an ARN of another region than the client's is refused without a request.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError
from libs.secrets._core.paths import arn_region_problem
from libs.secrets._core.values import decode_object
from secrets_agent.sources.aws.errors import (
    BATCH_UNSUPPORTED_CODES,
    batch_entry_error,
    client_error_code,
    error_for_code,
    map_aws_error,
    retry_after_of,
)
from secrets_agent.sources.base import (
    FetchResult,
    SourceBase,
    check_size,
    data_from_object,
    fetch_concurrently,
)
from secrets_agent.sources.result import (
    ConfigurationError,
    InvalidResponseError,
    SecretData,
    SecretMissingError,
    SourceError,
)

if TYPE_CHECKING:
    from secrets_agent.config.load import AwsBackendConfig

log = logging.getLogger(__name__)

BATCH_LIMIT = 20
MAX_PAGES = 10
TOTAL_ATTEMPTS = 3
# Call-level errors that one bad id in the list can cause: retry the ids one by one.
_PER_SECRET_RETRY_CODES = frozenset(
    {
        "ResourceNotFoundException",
        "InvalidParameterException",
        "InvalidRequestException",
        "DecryptionFailure",
    }
)


def build_client(config: AwsBackendConfig, *, pool_size: int) -> Any:
    """A boto3 Secrets Manager client with standard retries and explicit timeouts."""
    import boto3
    from botocore.config import Config as BotoConfig

    boto_config = BotoConfig(
        retries={"mode": "standard", "total_max_attempts": TOTAL_ATTEMPTS},
        connect_timeout=config.timeout,
        read_timeout=config.timeout,
        max_pool_connections=max(pool_size, 2),
    )
    session = boto3.session.Session()
    return session.client(
        "secretsmanager",
        region_name=config.region,
        endpoint_url=config.endpoint_url,
        config=boto_config,
    )


def data_from_value(value: Any, *, path: str) -> SecretData:
    """Turn a ``GetSecretValue`` response (or a batch ``SecretValues`` item) into SecretData.

    A ``SecretString`` holding a JSON object gives fields; any other string, or
    ``SecretBinary``, gives a raw value. Raises InvalidResponseError for anything else.
    """
    if not isinstance(value, dict):
        raise InvalidResponseError(f"secret {path!r}: malformed AWS response", path=path)
    version = value.get("VersionId")
    if version is not None and not isinstance(version, str):
        raise InvalidResponseError(f"secret {path!r}: VersionId is not a string", path=path)
    text = value.get("SecretString")
    if text is not None:
        if not isinstance(text, str):
            raise InvalidResponseError(f"secret {path!r}: SecretString is not text", path=path)
        check_size(text, path=path)
        parsed = decode_object(text)  # None also for JSON nested too deeply to decode
        if parsed is not None:
            return data_from_object(parsed, path=path, version=version, raw=text)
        return SecretData(fields=None, raw=text, version=version)
    blob = value.get("SecretBinary")
    if isinstance(blob, bytes | bytearray):
        check_size(bytes(blob), path=path)
        return SecretData(fields=None, raw=bytes(blob), version=version)
    raise InvalidResponseError(
        f"secret {path!r}: neither SecretString nor SecretBinary in the response", path=path
    )


def _matches(requested: str, name: object, arn: object) -> bool:
    if requested in (name, arn):
        return True
    # A partial ARN is the full ARN without its random "-xxxxxx" suffix.
    return (
        requested.startswith("arn:")
        and isinstance(arn, str)
        and arn.startswith(requested + "-")
        and len(arn) == len(requested) + 7
    )


def _data_or_error(value: Any, path: str) -> SecretData | SourceError:
    """One secret of a batch: its data, or the error of this secret alone (never raised)."""
    try:
        return data_from_value(value, path=path)
    except SourceError as exc:
        return exc
    except Exception as exc:
        return InvalidResponseError(
            f"secret {path!r}: cannot decode the AWS value ({type(exc).__name__})", path=path
        )


class AwsSource(SourceBase):
    """Fetches Secrets Manager secrets, batching where it can."""

    name = "aws"
    batch_size = BATCH_LIMIT

    def __init__(
        self, config: AwsBackendConfig, *, concurrency: int = 8, client: Any = None
    ) -> None:
        self._config = config
        self._concurrency = max(1, concurrency)
        self._client = client if client is not None else build_client(config, pool_size=concurrency)
        self._batch_supported = True

    def fetch_many(self, paths: Sequence[str], *, version_stage: str | None = None) -> FetchResult:
        """Read each secret id (at ``version_stage``, or the backend's default stage)."""
        unique = list(dict.fromkeys(paths))
        refused = self._wrong_region(unique)
        if refused:
            unique = [p for p in unique if p not in refused]
            if not unique:
                return refused
            return {**refused, **self.fetch_many(unique, version_stage=version_stage)}
        stage = version_stage or self._config.version_stage
        if (stage not in (None, "AWSCURRENT")) or not self._batch_supported or len(unique) == 1:
            return self._fetch_each(unique, stage)
        results: FetchResult = {}
        for start in range(0, len(unique), BATCH_LIMIT):
            results.update(self._fetch_batch(unique[start : start + BATCH_LIMIT], stage))
        return results

    def _wrong_region(self, paths: Sequence[str]) -> FetchResult:
        """A ``ConfigurationError`` for each ARN of another region than the client's (the
        config check catches it at load when ``[backend] region`` is set; this covers a region
        from the environment). No request is made for them."""
        region = getattr(getattr(self._client, "meta", None), "region_name", None)
        if not isinstance(region, str):
            return {}
        refused: FetchResult = {}
        for path in paths:
            if path.startswith("arn:"):
                problem = arn_region_problem(path, region, source="the client's region")
                if problem is not None:
                    refused[path] = ConfigurationError(f"AWS secret id {problem}", path=path)
        return refused

    def maintain(self) -> float | None:
        """Nothing to maintain: boto3 refreshes its own credentials."""
        return None

    def close(self) -> None:
        """Close the client's connection pool."""
        close = getattr(self._client, "close", None)
        if callable(close):
            close()

    def _fetch_each(self, paths: Sequence[str], stage: str | None) -> FetchResult:
        return fetch_concurrently(
            paths, lambda p: self._get_one(p, stage), concurrency=self._concurrency
        )

    def _get_one(self, path: str, stage: str | None) -> SecretData | SourceError:
        kwargs: dict[str, str] = {"SecretId": path}
        if stage is not None:
            kwargs["VersionStage"] = stage
        try:
            return data_from_value(self._client.get_secret_value(**kwargs), path=path)
        except SourceError as exc:
            return exc
        except Exception as exc:
            error = map_aws_error(exc, path=path, client=self._client)
        if stage is not None and isinstance(error, SecretMissingError) and self._exists(path):
            return SecretMissingError(
                f"AWS secret {path!r} has no version labelled {stage!r}", path=path
            )
        return error

    def _exists(self, path: str) -> bool:
        """Whether the secret exists (``DescribeSecret``: metadata only, no value)."""
        try:
            self._client.describe_secret(SecretId=path)
        except Exception:
            return False  # missing, or not allowed to describe: word it as missing
        return True

    def _fetch_batch(self, chunk: list[str], stage: str | None) -> FetchResult:
        values: list[Any] = []
        errors: list[Any] = []
        token: str | None = None
        try:
            for _ in range(MAX_PAGES):
                kwargs: dict[str, Any] = {"SecretIdList": chunk}
                if token:
                    kwargs["NextToken"] = token
                response = self._client.batch_get_secret_value(**kwargs)
                values.extend(response.get("SecretValues") or [])
                errors.extend(response.get("Errors") or [])
                token = response.get("NextToken")
                if not token:
                    break
        except ClientError as exc:
            code = client_error_code(exc)
            if code in BATCH_UNSUPPORTED_CODES:
                log.info("BatchGetSecretValue not available (%s); reading secrets one by one", code)
                self._batch_supported = False
                return self._fetch_each(chunk, stage)
            if code in _PER_SECRET_RETRY_CODES:
                return self._fetch_each(chunk, stage)
            retry_after = retry_after_of(exc)
            return {p: error_for_code(code, path=p, retry_after=retry_after) for p in chunk}
        except Exception as exc:
            return {p: map_aws_error(exc, path=p, client=self._client) for p in chunk}
        return self._assign(chunk, values, errors, stage)

    def _assign(
        self, chunk: list[str], values: list[Any], errors: list[Any], stage: str | None
    ) -> FetchResult:
        results: FetchResult = {}
        for value in values:
            if not isinstance(value, dict):
                continue
            for path in chunk:
                if path not in results and _matches(path, value.get("Name"), value.get("ARN")):
                    results[path] = _data_or_error(value, path)
        for entry in errors:
            secret_id = entry.get("SecretId") if isinstance(entry, dict) else None
            for path in chunk:
                if path not in results and _matches(path, secret_id, secret_id):
                    results[path] = batch_entry_error(entry, path=path)
        leftover = [p for p in chunk if p not in results]
        if leftover:
            results.update(self._fetch_each(leftover, stage))
        return results
