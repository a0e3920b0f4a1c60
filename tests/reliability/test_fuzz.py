"""Fuzz (hypothesis): reader keys, agent configs, and backend responses.

Only the project's own errors may come out: ``SecretManagerError`` subclasses from the reader,
``ConfigError`` from the config parser, ``SourceError`` per secret from the sources (and a failed
``RefreshResult``, never an exception, from the refresh step). Nothing is ever written outside
``output_dir``: the parent directory is snapshotted around every example.
"""

from __future__ import annotations

import contextlib
import json
import threading
import tomllib
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from fake_sources import spec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reliability_kit import record, snapshot
from secrets_agent.config.load import AuthConfig, ConfigError, VaultBackendConfig, parse_config
from secrets_agent.daemon.refresh import refresh
from secrets_agent.daemon.state import SecretState
from secrets_agent.sources.result import SecretData, SourceError
from secrets_agent.writer.writer import SecretWriter

DEFAULT, SOAK = 100, 5000  # examples: the default run, and `-m soak`
COUNTS: dict[str, int] = {}


def _runner(name: str, examples: int, strategy: Any, body: Callable[[Any], None]) -> None:
    COUNTS[name] = 0

    @settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    @given(strategy)
    def run(value: Any) -> None:
        COUNTS[name] += 1
        body(value)

    run()
    record(f"fuzz: {name}", tried=COUNTS[name], lost=0, unit="examples")


# -- reader keys ---------------------------------------------------------------------------

_KEYS = st.one_of(
    st.text(max_size=80),
    st.text(alphabet="ab./_-\\\0\n ..@+=", max_size=40),
    st.lists(
        st.sampled_from(["a", "..", ".", "", "x" * 300, ".hidden", "ok", "é"]), max_size=6
    ).map("/".join),
    st.binary(max_size=30).map(lambda b: b.decode("latin-1")),
)


def _keys(examples: int, directory: Path) -> None:
    from libs.secrets import EnvSecretManager, FileSecretManager, SecretManagerError

    (directory / "a").mkdir()
    (directory / "a" / "b").write_text("value")
    files = FileSecretManager(directory, watch=False)
    env = EnvSecretManager(environ={"A_B": "v"})

    def body(key: str) -> None:
        for manager in (files, env):
            with contextlib.suppress(SecretManagerError):
                assert isinstance(manager.get_secret(key), str)

    _runner("reader keys", examples, _KEYS, body)


def test_fuzz_keys(tmp_path: Path) -> None:
    _keys(DEFAULT, tmp_path)


# -- configs -------------------------------------------------------------------------------

_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True),
    st.text(max_size=20),
    st.sampled_from(["/dev/shm/x", "5m", "0400", "vault", "aws", "token", "approle", "fields"]),
)
_KEYNAMES = st.sampled_from(
    [
        "agent", "backend", "secrets", "output_dir", "refresh_interval", "file_mode", "dir_mode",
        "owner", "group", "metrics_file", "type", "address", "auth", "method", "token",
        "token_file", "role_id", "secret_id_file", "kv_mount", "kv_version", "timeout", "path",
        "target", "format", "field", "template", "mode", "on_change", "version_stage", "region",
        "concurrency", "allow_non_tmpfs", "role",
    ]
) | st.text(max_size=8)  # fmt: skip
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_KEYNAMES, inner, max_size=6),
    max_leaves=30,
)
_CONFIGS = st.one_of(
    st.dictionaries(_KEYNAMES, _VALUES, max_size=5),
    st.fixed_dictionaries(
        {
            "agent": st.dictionaries(_KEYNAMES, _VALUES, max_size=5)
            | st.just({"output_dir": "/dev/shm/fuzz"}),
            "backend": st.dictionaries(_KEYNAMES, _VALUES, max_size=5)
            | st.just({"type": "vault", "address": "http://x", "auth": {"method": "token"}}),
            "secrets": st.lists(st.dictionaries(_KEYNAMES, _VALUES, max_size=6), max_size=3),
        }
    ),
)


def _configs(examples: int) -> None:
    def body(data: Any) -> None:
        try:
            parse_config(data, environ={})
        except ConfigError as exc:
            assert exc.problems and all(isinstance(p, str) for p in exc.problems)

    _runner("config mappings (parse_config)", examples, _CONFIGS, body)

    def text_body(text: str) -> None:
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError:
            return
        with contextlib.suppress(ConfigError):
            parse_config(data, environ={})

    toml_text = st.text(
        alphabet='[]=."\n abcdefgnprstuvy0123456789_-{},/', max_size=200
    ) | st.sampled_from(['[agent]\noutput_dir = 1\n[[secrets]]\npath = "a"\n', "[[secrets]]\n"])
    _runner("config TOML text", examples, toml_text, text_body)


def test_fuzz_configs() -> None:
    _configs(DEFAULT)


# -- backend responses ---------------------------------------------------------------------


class FakeVault:
    """Answers token lookups normally and every KV read with the body under test."""

    def __init__(self) -> None:
        self.status = 200
        self.body = b"{}"
        front = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_: Any) -> None:
                pass

            def do_GET(self) -> None:
                if "lookup-self" in self.path:
                    status, body = 200, json.dumps({"data": {"ttl": 0, "renewable": False}})
                    payload = body.encode()
                else:
                    status, payload = front.status, front.body
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(  # a short poll: close() returns at once
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


def _envelope(data: Any, version: Any) -> bytes:
    return json.dumps({"data": {"data": data, "metadata": {"version": version}}}).encode()


_BODIES = st.one_of(
    st.tuples(_JSON, _JSON).map(lambda t: _envelope(*t)),
    st.dictionaries(st.text(max_size=10), _JSON, max_size=5).map(lambda d: _envelope(d, 3)),
    _JSON.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=200),
    st.sampled_from(
        [
            b"\xff\xfe\x00garbage",
            b'{"data": {"data": {"k": "\\udcff"}}}',
            b"[" * 100_000 + b"]" * 100_000,
            b'{"data": ' * 5000 + b"{}" + b"}" * 5000,
            _envelope({"big": "x" * 1_500_000}, 1),
            _envelope({"../../escape": "v", "/abs": "v", ".status.json": "v", "": "v"}, 1),
            _envelope({"a/b": "v", "a": "v", "x" * 300: "v", "nul\0": "v"}, 1),
        ]
    ),
)
_STATUSES = st.sampled_from([200, 200, 200, 204, 301, 400, 403, 404, 412, 429, 500, 503])


def _responses(examples: int, tmpfs_dir: Path) -> None:
    from secrets_agent.sources.vault.source import VaultSource

    fake = FakeVault()
    backend = VaultBackendConfig(
        address=fake.url, auth=AuthConfig(method="token", token="t"), timeout=5.0
    )
    source = VaultSource(backend, concurrency=1)
    out = tmpfs_dir / "out"
    writer = SecretWriter(out)
    writer.prepare()
    (tmpfs_dir / "sibling").write_bytes(b"keep")
    specs = [
        spec("p", format="fields"),
        spec("p", format="json", target="j"),
        spec("p", format="env", target="e"),
        spec("p", format="raw", field="k", target="r"),
        spec("p", format="template", template="u={{ k }}", target="t"),
    ]
    outside = {k: v for k, v in snapshot(tmpfs_dir).items() if not k.startswith("out/")}
    kinds: dict[str, int] = {}

    def body(case: tuple[bytes, int]) -> None:
        fake.body, fake.status = case
        result = source.fetch_many(["p"])
        outcome = result["p"]
        assert isinstance(outcome, SecretData | SourceError)
        kinds[type(outcome).__name__] = kinds.get(type(outcome).__name__, 0) + 1
        for sp in specs:
            state = SecretState(path=sp.path, target=sp.target)
            res = refresh(sp, outcome, writer, state, now=0.0)
            assert res.ok or res.error
        now = {k: v for k, v in snapshot(tmpfs_dir).items() if not k.startswith("out/")}
        assert now == outside
        for path in snapshot(out, dotfiles=True):
            assert path.split("/")[0] in ("p", "j", "e", "r", "t"), path

    try:
        _runner(
            "vault responses -> source -> refresh", examples, st.tuples(_BODIES, _STATUSES), body
        )
    finally:
        source.close()
        fake.close()
    print("outcomes:", kinds)


def test_fuzz_backend_responses(tmpfs_dir: Path) -> None:
    _responses(DEFAULT // 2, tmpfs_dir)


def _aws_values(examples: int) -> None:
    from secrets_agent.config.load import AwsBackendConfig
    from secrets_agent.sources.aws.source import AwsSource

    values = st.one_of(
        _JSON,
        st.dictionaries(
            st.sampled_from(["SecretString", "SecretBinary", "VersionId", "Name", "ARN"]),
            _JSON | st.binary(max_size=50),
            max_size=5,
        ),
    )

    class Client:
        def __init__(self) -> None:
            self.value: Any = None

        def get_secret_value(self, **_: Any) -> Any:
            return self.value

        def batch_get_secret_value(self, **_: Any) -> Any:
            return self.value

    client = Client()
    source = AwsSource(AwsBackendConfig(region="us-east-1"), client=client, concurrency=1)

    def body(value: Any) -> None:
        client.value = value
        for paths in (["a"], ["a", "b"]):
            result = source.fetch_many(paths)
            assert set(result) == set(paths)
            assert all(isinstance(v, SecretData | SourceError) for v in result.values())

    _runner("aws responses -> source", examples, values, body)


def test_fuzz_aws_responses() -> None:
    _aws_values(DEFAULT)


@pytest.mark.soak
@pytest.mark.timeout(1800)
@pytest.mark.timeout(3600)
def test_fuzz_soak(tmp_path: Path, tmpfs_dir: Path) -> None:
    _keys(SOAK, tmp_path)
    _configs(SOAK)
    _responses(SOAK, tmpfs_dir)
    _aws_values(SOAK)
