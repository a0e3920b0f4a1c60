"""Fixtures for the reader's tests: one harness per backend for the contract suite.

Each harness stores values the way the real backend would hold them (environment variables,
files on tmpfs, the Vault dev server, moto behind a fault-injecting front) and can make its
backend unavailable for real (renamed directory, sealed Vault, 500s from the front).
"""

from __future__ import annotations

import http.client
import json
import logging
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
from libs.secrets import (
    AWSSecretsManager,
    EnvSecretManager,
    FileSecretManager,
    SecretManager,
    VaultSecretManager,
    create_secret_manager,
)


class FakeTimer:
    """A monotonic clock that only moves when told to."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.calls = 0

    def __call__(self) -> float:
        self.calls += 1
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def timer() -> FakeTimer:
    return FakeTimer()


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No reader variable leaks in from the machine; the factory starts empty."""
    for name in (
        "SECRET_BACKEND",
        "SECRET_CACHE_TTL",
        "SECRET_ENV_PREFIX",
        "SECRETS_DIR",
        "CREDENTIALS_DIRECTORY",
        "ENVIRONMENT",
        "APP_ENV",
        "VAULT_ADDR",
        "VAULT_TOKEN",
        "VAULT_TOKEN_FILE",
        "VAULT_ROLE_ID",
        "VAULT_SECRET_ID",
        "VAULT_SECRET_ID_FILE",
        "VAULT_SECRET_ID_WRAPPED",
        "VAULT_K8S_ROLE",
        "VAULT_K8S_TOKEN_FILE",
        "VAULT_NAMESPACE",
        "VAULT_CACERT",
        "VAULT_KV_MOUNT",
        "VAULT_KV_VERSION",
        "VAULT_CLIENT_TIMEOUT",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SECRETS_DIR", str(tmp_path / "no-agent-files"))
    logging.getLogger("werkzeug").setLevel(logging.CRITICAL)
    create_secret_manager.cache_clear(close=True)
    yield
    create_secret_manager.cache_clear(close=True)


# -- a fault-injecting front for moto ------------------------------------------------------


class FaultFront:
    """HTTP server on loopback that forwards to moto, or answers with an injected fault.

    ``mode``: None (forward), ``"500"`` (InternalServiceError), ``"throttle"``
    (ThrottlingException), ``"denied"`` (AccessDeniedException). ``hits`` counts requests.
    """

    _FAULTS: ClassVar[dict[str, tuple[int, str, str]]] = {
        "500": (500, "InternalServiceError", "internal error"),
        "throttle": (400, "ThrottlingException", "Rate exceeded"),
        "denied": (400, "AccessDeniedException", "not authorized"),
    }

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.removeprefix("http://")
        self.mode: str | None = None
        self.hits = 0
        front = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                front.hits += 1
                if front.mode is not None:
                    status, code, message = front._FAULTS[front.mode]
                    self._reply(
                        status,
                        json.dumps({"__type": code, "message": message}).encode(),
                        "application/x-amz-json-1.1",
                    )
                    return
                conn = http.client.HTTPConnection(front.upstream, timeout=10)
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                conn.request("POST", self.path, body=body, headers=headers)
                response = conn.getresponse()
                data = response.read()
                conn.close()
                self._reply(response.status, data, response.getheader("Content-Type", "text/plain"))

            def _reply(self, status: int, data: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def aws_front(aws_env: str) -> Iterator[FaultFront]:
    front = FaultFront(aws_env)
    yield front
    front.close()


@pytest.fixture
def sm_client(aws_env: str) -> Any:
    """A plain boto3 client on moto for test setup."""
    import boto3

    return boto3.client("secretsmanager", region_name="us-east-1", endpoint_url=aws_env)


# -- backend harnesses -----------------------------------------------------------------------


class Harness:
    """Stores values in a backend, builds managers on it, breaks it."""

    name = ""
    can_break = True
    sees_changes_at_once = False  # the file backend's observer invalidates on change
    has_agent_fallback = False

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.fallback_dir = tmp / "agent-files"
        self._managers: list[SecretManager] = []

    def manager(
        self, *, ttl_seconds: float = 300.0, timer: Callable[[], float] | None = None
    ) -> SecretManager:
        kwargs: dict[str, Any] = {"ttl_seconds": ttl_seconds}
        if timer is not None:
            kwargs["timer"] = timer
        manager = self._build(**kwargs)
        self._managers.append(manager)
        return manager

    def _build(self, **kwargs: Any) -> SecretManager:
        raise NotImplementedError

    def put(self, key: str, value: str) -> None:
        raise NotImplementedError

    def remove(self, key: str) -> None:
        raise NotImplementedError

    def break_backend(self) -> None:
        raise NotImplementedError

    def request_count(self) -> int | None:
        """Requests the backend has served, where that can be counted."""
        return None

    def close(self) -> None:
        for manager in self._managers:
            manager.close()


class EnvHarness(Harness):
    name = "env"
    can_break = False

    def __init__(self, tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        super().__init__(tmp)
        self.monkeypatch = monkeypatch

    def _build(self, **kwargs: Any) -> SecretManager:
        return EnvSecretManager(**kwargs)

    @staticmethod
    def variable(key: str) -> str:
        return "".join(c if c.isascii() and c.isalnum() else "_" for c in key).upper()

    def put(self, key: str, value: str) -> None:
        self.monkeypatch.setenv(self.variable(key), value)

    def remove(self, key: str) -> None:
        self.monkeypatch.delenv(self.variable(key), raising=False)


class FileHarness(Harness):
    name = "file"
    sees_changes_at_once = True

    def __init__(self, tmp: Path) -> None:
        super().__init__(tmp)
        self.root = tmp / "secrets"
        self.root.mkdir(mode=0o700)

    def _build(self, **kwargs: Any) -> SecretManager:
        return FileSecretManager(self.root, **kwargs)

    def put(self, key: str, value: str) -> None:
        path = self.root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = path.with_name(".tmp-" + path.name)
        temp.write_bytes(value.encode("utf-8"))
        temp.replace(path)

    def remove(self, key: str) -> None:
        (self.root / key).unlink()

    def break_backend(self) -> None:
        self.root.rename(self.tmp / "secrets-moved-away")


class VaultHarness(Harness):
    name = "vault"
    has_agent_fallback = True

    def __init__(self, tmp: Path, vault: Any) -> None:
        super().__init__(tmp)
        self.vault = vault
        self.secrets: dict[str, dict[str, str]] = {}

    def _build(self, **kwargs: Any) -> SecretManager:
        config = {
            "address": self.vault.url,
            "token": self.vault.root_token,
            "secrets_dir": str(self.fallback_dir),
            "timeout": 5,
        }
        return VaultSecretManager(config, **kwargs)

    def put(self, key: str, value: str) -> None:
        path, _, field = key.rpartition("/")
        fields = self.secrets.setdefault(path, {})
        fields[field] = value
        self.vault.put_secret(path, dict(fields))

    def remove(self, key: str) -> None:
        path, _, field = key.rpartition("/")
        fields = self.secrets[path]
        del fields[field]
        if fields:
            self.vault.put_secret(path, dict(fields))
        else:
            self.vault.delete_secret(path)

    def break_backend(self) -> None:
        self.vault.seal()

    def request_count(self) -> int | None:
        return int(self.vault.request_count)


class AwsHarness(Harness):
    name = "aws"
    has_agent_fallback = True

    def __init__(self, tmp: Path, front: FaultFront, client: Any) -> None:
        super().__init__(tmp)
        self.front = front
        self.client = client
        self.secrets: dict[str, dict[str, str]] = {}

    def _build(self, **kwargs: Any) -> SecretManager:
        config = {
            "endpoint_url": self.front.url,
            "region": "us-east-1",
            "secrets_dir": str(self.fallback_dir),
            "max_attempts": 2,
        }
        return AWSSecretsManager(config, **kwargs)

    def _store(self, path: str) -> None:
        body = json.dumps(self.secrets[path])
        try:
            self.client.put_secret_value(SecretId=path, SecretString=body)
        except self.client.exceptions.ResourceNotFoundException:
            self.client.create_secret(Name=path, SecretString=body)

    def put(self, key: str, value: str) -> None:
        path, _, field = key.rpartition("/")
        self.secrets.setdefault(path, {})[field] = value
        self._store(path)

    def remove(self, key: str) -> None:
        path, _, field = key.rpartition("/")
        del self.secrets[path][field]
        self._store(path)

    def break_backend(self) -> None:
        self.front.mode = "500"

    def request_count(self) -> int | None:
        return self.front.hits


@pytest.fixture(params=["env", "file", "vault", "aws"])
def harness(
    request: pytest.FixtureRequest, tmpfs_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Harness]:
    """The contract suite's backend: every contract test runs once per backend."""
    made: Harness
    if request.param == "env":
        made = EnvHarness(tmpfs_dir, monkeypatch)
    elif request.param == "file":
        made = FileHarness(tmpfs_dir)
    elif request.param == "vault":
        made = VaultHarness(tmpfs_dir, request.getfixturevalue("vault"))
    else:
        front = request.getfixturevalue("aws_front")
        made = AwsHarness(tmpfs_dir, front, request.getfixturevalue("sm_client"))
    yield made
    made.close()


@pytest.fixture(scope="session")
def openbao(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A real OpenBao dev server for the session (``tests/support/openbao_server.py``)."""
    from openbao_server import started_for_tests

    server = started_for_tests(tmp_path_factory, "openbao")
    yield server
    server.stop()
