"""The reader and the agent classify the same server answer the same way.

One table of answers (HTTP status and body, as Vault/OpenBao and AWS Secrets Manager send them)
is served by a small loopback HTTP server; the reader (``VaultSecretManager``,
``AWSSecretsManager``) and the agent (``VaultSource`` through its keep-alive pool and through
hvac, ``AwsSource`` through ``GetSecretValue`` and through a ``BatchGetSecretValue`` error
entry) each read a secret from it, through real hvac and boto3, and each side's error must be of
the kind the table expects (``libs.secrets._core.failures.FailureKind``).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import hvac
import pytest
from libs.secrets import AWSSecretsManager, VaultSecretManager
from libs.secrets._core.failures import FailureKind
from libs.secrets.errors import (
    SecretAccessDeniedError,
    SecretBackendUnavailableError,
    SecretConfigurationError,
    SecretManagerError,
    SecretNotFoundError,
)
from secrets_agent.config.load import AuthConfig, AwsBackendConfig, VaultBackendConfig
from secrets_agent.sources.aws.source import AwsSource
from secrets_agent.sources.result import SecretData, SourceError
from secrets_agent.sources.vault.source import VaultSource, build_session

READER_KINDS: dict[type[SecretManagerError], FailureKind] = {
    SecretNotFoundError: FailureKind.NOT_FOUND,
    SecretAccessDeniedError: FailureKind.DENIED,
    SecretBackendUnavailableError: FailureKind.UNAVAILABLE,
    SecretConfigurationError: FailureKind.INVALID,
}

Answer = tuple[int, dict[str, str], bytes]


class AnswerServer:
    """Answers every request with the current answer; Vault token lookups always succeed."""

    def __init__(self) -> None:
        self.answer: Answer = (200, {}, b"{}")
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _reply(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                if self.path.endswith("/auth/token/lookup-self"):
                    status, headers, payload = 200, {}, b'{"data":{"ttl":0,"renewable":false}}'
                elif b'"SecretIdList"' in body:
                    status, headers, payload = server.batch_answer
                else:
                    status, headers, payload = server.answer
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def do_GET(self) -> None:
                self._reply()

            def do_POST(self) -> None:
                self._reply()

            def do_PUT(self) -> None:
                self._reply()

        self.batch_answer: Answer = (200, {}, b"{}")
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(  # a short poll: close() returns at once
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


@pytest.fixture(scope="module")
def server() -> Iterator[AnswerServer]:
    answers = AnswerServer()
    yield answers
    answers.close()


def _reader_kind(call: Any) -> FailureKind | None:
    try:
        call()
    except SecretManagerError as exc:
        return READER_KINDS.get(type(exc))
    return None


def _agent_kind(
    result: SecretData | SourceError, retry_after: float | None = None
) -> FailureKind | None:
    assert isinstance(result, SourceError), "expected an error"
    if retry_after is not None:
        assert getattr(result, "retry_after", None) == retry_after
    return result.kind


def _vault(errors: list[str]) -> bytes:
    return json.dumps({"errors": errors}).encode()


VAULT_ANSWERS: list[tuple[str, Answer, FailureKind]] = [
    ("404 empty", (404, {}, _vault([])), FailureKind.NOT_FOUND),
    (
        "404 deleted version envelope",
        (404, {}, b'{"data":{"data":null,"metadata":{"version":2,"destroyed":false}}}'),
        FailureKind.NOT_FOUND,
    ),
    ("403 OpenBao dead token", (403, {}, _vault(["permission denied"])), FailureKind.DENIED),
    (
        "403 Vault invalid token",
        (403, {}, _vault(["2 errors occurred:\n\t* permission denied\n\t* invalid token\n\n"])),
        FailureKind.DENIED,
    ),
    ("401", (401, {}, _vault(["unauthorized"])), FailureKind.DENIED),
    ("400 invalid request", (400, {}, _vault(["invalid request"])), FailureKind.INVALID),
    ("405", (405, {}, _vault(["unsupported operation"])), FailureKind.INVALID),
    (
        "400 KV upgrade",
        (400, {}, _vault(["Upgrading from non-versioned to versioned data. Wait."])),
        FailureKind.UNAVAILABLE,
    ),
    (
        "412 index state",
        (412, {}, _vault(["required index state not present"])),
        FailureKind.UNAVAILABLE,
    ),
    (
        "429 quota",
        (429, {"Retry-After": "7"}, _vault(["rate limit quota exceeded"])),
        FailureKind.UNAVAILABLE,
    ),
    ("500", (500, {}, _vault(["internal error"])), FailureKind.UNAVAILABLE),
    ("501 not initialised", (501, {}, _vault([])), FailureKind.UNAVAILABLE),
    ("502", (502, {}, _vault(["upstream rate limited"])), FailureKind.UNAVAILABLE),
    ("503 sealed", (503, {}, _vault(["Vault is sealed"])), FailureKind.UNAVAILABLE),
]


@pytest.mark.parametrize(
    ("answer", "kind"), [row[1:] for row in VAULT_ANSWERS], ids=[row[0] for row in VAULT_ANSWERS]
)
def test_vault_answers(
    server: AnswerServer, tmp_path: Path, answer: Answer, kind: FailureKind
) -> None:
    server.answer = answer
    reader = VaultSecretManager(
        {"address": server.url, "token": "t", "secrets_dir": str(tmp_path)}, ttl_seconds=0
    )
    config = VaultBackendConfig(
        address=server.url, auth=AuthConfig(method="token", token="t"), timeout=2.0
    )
    pooled = VaultSource(config, concurrency=1)
    session = build_session(server.url, pool_size=1)  # the agent's session, with its hooks
    through_hvac = VaultSource(config, client=hvac.Client(url=server.url, session=session))
    try:
        assert pooled.pool() is not None  # the agent's own keep-alive pool, not hvac
        hint = float(answer[1]["Retry-After"]) if "Retry-After" in answer[1] else None
        kinds = {
            "reader": _reader_kind(lambda: reader.get_secret("p/f")),
            "agent (pool)": _agent_kind(pooled.fetch_many(["p"])["p"], hint),
            "agent (hvac)": _agent_kind(through_hvac.fetch_many(["p"])["p"], hint),
        }
    finally:
        reader.close()
        pooled.close()
        through_hvac.close()
    assert kinds == dict.fromkeys(kinds, kind)


def _aws(code: str, message: str) -> bytes:
    return json.dumps({"__type": code, "message": message}).encode()


DELETED = "You can't perform this operation on the secret because it was marked for deletion."
AWS_ANSWERS: list[tuple[str, int, str, str, FailureKind]] = [
    (
        "not found",
        400,
        "ResourceNotFoundException",
        "Secrets Manager can't find it.",
        FailureKind.NOT_FOUND,
    ),
    ("deleted", 400, "InvalidRequestException", DELETED, FailureKind.NOT_FOUND),
    (
        "stage mismatch",
        400,
        "InvalidRequestException",
        "VersionId and VersionStage point at different versions.",
        FailureKind.INVALID,
    ),
    ("bad parameter", 400, "InvalidParameterException", "bad", FailureKind.INVALID),
    ("access denied", 400, "AccessDeniedException", "no", FailureKind.DENIED),
    ("kms", 400, "DecryptionFailure", "kms said no", FailureKind.DENIED),
    ("expired credentials", 400, "ExpiredTokenException", "expired", FailureKind.DENIED),
    ("unknown client", 400, "UnrecognizedClientException", "who?", FailureKind.DENIED),
    ("throttled", 400, "ThrottlingException", "Rate exceeded", FailureKind.UNAVAILABLE),
    ("internal", 500, "InternalServiceError", "oops", FailureKind.UNAVAILABLE),
]


@pytest.fixture
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    for var in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_SECRETS_MANAGER"):
        monkeypatch.delenv(var, raising=False)


@pytest.mark.parametrize(
    ("status", "code", "message", "kind"),
    [row[1:] for row in AWS_ANSWERS],
    ids=[row[0] for row in AWS_ANSWERS],
)
def test_aws_answers(
    server: AnswerServer,
    tmp_path: Path,
    aws_credentials: None,
    status: int,
    code: str,
    message: str,
    kind: FailureKind,
) -> None:
    server.answer = (status, {}, _aws(code, message))
    entry = {"SecretId": "p", "ErrorCode": code, "Message": message}
    ok = {"ARN": "arn:aws:secretsmanager:us-east-1:1:secret:q-abcdef", "Name": "q"}
    server.batch_answer = (
        200,
        {},
        json.dumps({"SecretValues": [{**ok, "SecretString": "v"}], "Errors": [entry]}).encode(),
    )
    reader = AWSSecretsManager(
        {
            "region": "us-east-1",
            "endpoint_url": server.url,
            "max_attempts": 1,
            "secrets_dir": str(tmp_path),
        },
        ttl_seconds=0,
    )
    agent = AwsSource(AwsBackendConfig(region="us-east-1", endpoint_url=server.url, timeout=2.0))
    try:
        batch = agent.fetch_many(["p", "q"])
        assert isinstance(batch["q"], SecretData)  # one secret's error leaves the other alone
        kinds = {
            "reader": _reader_kind(lambda: reader.get_secret("p")),
            "agent (GetSecretValue)": _agent_kind(agent.fetch_many(["p"])["p"]),
            "agent (batch entry)": _agent_kind(batch["p"]),
        }
    finally:
        reader.close()
        agent.close()
    assert kinds == dict.fromkeys(kinds, kind)


def test_no_answer_at_all(tmp_path: Path, aws_credentials: None) -> None:
    """A refused connection is "unavailable" on both sides, for both backends."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    reader_vault = VaultSecretManager(
        {"address": url, "token": "t", "secrets_dir": str(tmp_path)}, ttl_seconds=0
    )
    reader_aws = AWSSecretsManager(
        {
            "endpoint_url": url,
            "region": "us-east-1",
            "max_attempts": 1,
            "secrets_dir": str(tmp_path),
        },
        ttl_seconds=0,
    )
    vault = VaultSource(
        VaultBackendConfig(address=url, auth=AuthConfig(method="token", token="t"), timeout=2.0)
    )
    aws = AwsSource(AwsBackendConfig(region="us-east-1", endpoint_url=url, timeout=2.0))
    try:
        kinds = {
            "reader vault": _reader_kind(lambda: reader_vault.get_secret("p/f")),
            "reader aws": _reader_kind(lambda: reader_aws.get_secret("p")),
            "agent vault": _agent_kind(vault.fetch_many(["p"])["p"]),
            "agent aws": _agent_kind(aws.fetch_many(["p"])["p"]),
        }
    finally:
        for closable in (reader_vault, reader_aws, vault, aws):
            closable.close()
    assert kinds == dict.fromkeys(kinds, FailureKind.UNAVAILABLE)
