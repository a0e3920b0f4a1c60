"""``AWSSecretsManager``: direct reads from AWS Secrets Manager through boto3.

``get_secret("alpaca/api_key_id")`` calls ``GetSecretValue(SecretId="alpaca")`` and returns
field ``api_key_id`` of its JSON ``SecretString``; if secret ``alpaca`` does not exist, it calls
``GetSecretValue(SecretId="alpaca/api_key_id")`` and returns the whole plain value. A key
``SECRET_ID[#FIELD]`` (a name starting with ``/``, a secret ARN, or ``NAME#FIELD``; see
``libs.secrets.keys``) reads that one secret, field ``FIELD`` or the whole value, with no
fallback; an ARN of another region than the client's raises ``SecretConfigurationError``.
boto3 is imported on first use; the client uses standard retries and explicit connect/read timeouts.
Region, credentials and ``AWS_ENDPOINT_URL_SECRETS_MANAGER`` / ``AWS_ENDPOINT_URL`` come from
boto3's own chain unless the config overrides them. botocore's DEBUG log of response bodies is
filtered out, since those bodies hold secret values.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from .._core.paths import arn_region_problem
from .._core.values import NestingTooDeepError, decode_object, field_text
from ..config import AwsConfig
from ..errors import SecretConfigurationError, SecretManagerError, SecretNotFoundError
from ..keys import is_secret_id_key
from ..manager import SecretManager
from .aws_errors import is_not_found, translate_aws_error


def _import_boto3() -> Any:
    try:
        import boto3
    except ImportError as exc:
        raise SecretConfigurationError(
            "the aws backend needs boto3: pip install 'tmpfs-secrets[aws]'", backend="aws"
        ) from exc
    return boto3


class _DropResponseBodies(logging.Filter):
    """Drops botocore's DEBUG records that print raw response bodies (they hold values)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Response body")


_REDACTION = _DropResponseBodies()


def install_log_redaction() -> None:
    """Attach the response-body filter to botocore's parser logger (idempotent)."""
    parser_logger = logging.getLogger("botocore.parsers")
    if _REDACTION not in parser_logger.filters:
        parser_logger.addFilter(_REDACTION)


class _MissingError(Exception):
    """Internal: ResourceNotFoundException for one SecretId."""


class AWSSecretsManager(SecretManager):
    """Reads secrets from AWS Secrets Manager; see the module docstring."""

    backend = "aws"

    def __init__(
        self,
        config: AwsConfig | Mapping[str, object] | None = None,
        *,
        client: Any = None,
        ttl_seconds: float | None = None,
        timer: Callable[[], float] = time.monotonic,
        refresh_ahead: float | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        env = os.environ if environ is None else environ
        self.config = AwsConfig.resolve(config, env)
        super().__init__(
            ttl_seconds=ttl_seconds,
            timer=timer,
            fallback_dir=self.config.secrets_dir,
            environ=env,
            refresh_ahead=refresh_ahead,
        )
        self._client: Any = client
        self._owns_client = client is None
        self._lock = threading.Lock()
        if client is not None:
            install_log_redaction()

    def _ensure_client(self) -> Any:
        client = self._client
        if client is not None:
            return client
        with self._lock:
            if self._client is None:
                self._client = self._build_client()
            return self._client

    def _build_client(self) -> Any:
        boto3 = _import_boto3()
        from botocore.config import Config
        from botocore.exceptions import BotoCoreError

        install_log_redaction()
        cfg = self.config
        settings = Config(
            retries={"mode": "standard", "total_max_attempts": cfg.max_attempts},
            connect_timeout=cfg.connect_timeout,
            read_timeout=cfg.read_timeout,
        )
        try:
            session = boto3.session.Session(region_name=cfg.region)
            return session.client("secretsmanager", endpoint_url=cfg.endpoint_url, config=settings)
        except BotoCoreError as exc:
            error = translate_aws_error(exc, "creating the Secrets Manager client")
            raise error from exc
        except ValueError as exc:
            # botocore's "Invalid endpoint: ..." names the URL, which is configuration.
            raise SecretConfigurationError(
                f"cannot create the Secrets Manager client: {' '.join(str(exc).split())[:300]}"
                " (check AWS_ENDPOINT_URL_SECRETS_MANAGER / AWS_ENDPOINT_URL / endpoint_url)",
                backend="aws",
            ) from exc

    def _get(self, client: Any, secret_id: str, key: str) -> Mapping[str, Any]:
        params = {"SecretId": secret_id}
        if self.config.version_stage:
            params["VersionStage"] = self.config.version_stage
        try:
            response: Mapping[str, Any] = client.get_secret_value(**params)
        except Exception as exc:
            if is_not_found(exc):
                raise _MissingError from exc
            where = f"secret {key!r}: GetSecretValue({secret_id!r})"
            if isinstance(exc, ValueError):
                # A URL that botocore accepted but urllib3 cannot parse.
                error: SecretManagerError = SecretConfigurationError(
                    f"{where}: invalid endpoint ({type(exc).__name__}); check "
                    "AWS_ENDPOINT_URL_SECRETS_MANAGER / AWS_ENDPOINT_URL / endpoint_url"
                )
            else:
                error = translate_aws_error(exc, where, client=client)
            error.backend, error.key = self.backend, key
            raise error from exc
        return response

    def _fetch(self, key: str, secret_path: str, field: str) -> str:
        client = self._ensure_client()
        if is_secret_id_key(key):
            return self._fetch_exactly(client, key, secret_path, field)
        if secret_path:
            try:
                response = self._get(client, secret_path, key)
            except _MissingError:
                pass
            else:
                return self._field(response, secret_path, field, key)
        try:
            response = self._get(client, key, key)
        except _MissingError:
            raise self._missing(client, key, [secret_path, key] if secret_path else [key]) from None
        return self._whole(response, key)

    def _fetch_exactly(self, client: Any, key: str, secret_id: str, field: str) -> str:
        """``SECRET_ID[#FIELD]``: one secret, no guessing; an ARN of another region than the
        client's is a configuration error before any request."""
        region = getattr(getattr(client, "meta", None), "region_name", None)
        problem = arn_region_problem(secret_id, region if isinstance(region, str) else None)
        if problem is not None:
            raise SecretConfigurationError(
                f"secret {key!r}: secret id {problem}", backend=self.backend, key=key
            )
        try:
            response = self._get(client, secret_id, key)
        except _MissingError:
            raise self._missing(client, key, [secret_id]) from None
        return self._field(response, secret_id, field, key) if field else self._whole(response, key)

    def _missing(self, client: Any, key: str, candidates: list[str]) -> SecretNotFoundError:
        """The not-found error for ``key`` after each of ``candidates`` was not found; with a
        version stage, it says whether a secret exists without a version of that stage (one
        ``DescribeSecret``, no value read)."""
        stage = self.config.version_stage
        if stage:
            for secret_id in candidates:
                if self._exists(client, secret_id):
                    return SecretNotFoundError(
                        f"secret {key!r} not found: secret {secret_id!r} has no version "
                        f"labelled {stage!r} in Secrets Manager",
                        backend=self.backend,
                        key=key,
                    )
        if len(candidates) == 2:
            detail = f"neither secret {candidates[0]!r} nor secret {candidates[1]!r} exists"
        else:
            detail = f"secret {candidates[0]!r} does not exist"
        return SecretNotFoundError(
            f"secret {key!r} not found: {detail} in Secrets Manager", backend=self.backend, key=key
        )

    def _exists(self, client: Any, secret_id: str) -> bool:
        try:
            client.describe_secret(SecretId=secret_id)
        except Exception:
            return False  # missing, or not allowed to describe: word it as missing
        return True

    def _field(self, response: Mapping[str, Any], secret_id: str, field: str, key: str) -> str:
        text = response.get("SecretString")
        data = decode_object(text) if isinstance(text, str) else None
        if data is None:
            raise SecretNotFoundError(
                f"secret {key!r}: secret {secret_id!r} is not a JSON object (or is nested too "
                f"deeply to decode), so it has no field {field!r}",
                backend=self.backend,
                key=key,
            )
        if field not in data:
            raise SecretNotFoundError(
                f"secret {key!r}: field {field!r} is not in secret {secret_id!r}",
                backend=self.backend,
                key=key,
            )
        try:
            return field_text(data[field])
        except NestingTooDeepError as exc:
            raise SecretManagerError(
                f"secret {key!r}: field {field!r} of secret {secret_id!r}: {exc}",
                backend=self.backend,
                key=key,
            ) from None

    def _whole(self, response: Mapping[str, Any], key: str) -> str:
        text = response.get("SecretString")
        if isinstance(text, str):
            return text
        binary = response.get("SecretBinary")
        if isinstance(binary, bytes | bytearray):
            try:
                return bytes(binary).decode("utf-8")
            except UnicodeDecodeError:
                pass
        raise SecretManagerError(
            f"secret {key!r} is binary and not valid UTF-8 text", backend=self.backend, key=key
        )

    def _close(self) -> None:
        super()._close()
        client, self._client = self._client, None
        if client is not None and self._owns_client:
            close = getattr(client, "close", None)
            if close is not None:
                close()

    def _describe(self) -> str:
        cfg = self.config
        return f"region={cfg.region!r}, endpoint_url={cfg.endpoint_url!r}"


__all__ = ["AWSSecretsManager", "install_log_redaction"]
