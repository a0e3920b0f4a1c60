"""``dev-server`` command: prints VAULT_ADDR/VAULT_TOKEN, loads a seed, stops on SIGTERM."""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import threading
from pathlib import Path

import hvac
import pytest
from secrets_agent.devserver import command as cli

RUNNER = (
    "import argparse, sys\n"
    "from secrets_agent.devserver import command as cli\n"
    "parser = argparse.ArgumentParser()\n"
    "cli.add_arguments(parser)\n"
    "sys.exit(cli.run(parser.parse_args(sys.argv[1:])))\n"
)


def _spawn(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", RUNNER, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _parse(args: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    return parser.parse_args(args)


def test_serves_seed_and_stops_on_sigterm(tmp_path: Path) -> None:
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps({
        "mounts": {"kv1": 1},
        "secrets": {"secret/alpaca": {"api_key_id": "id"}, "kv1/db": {"password": "pw"}},
        "approle": {"agent": {"paths": ["secret/data/*"]}},
    }))  # fmt: skip
    proc = _spawn("--port", "0", "--root-token", "dev-root", "--seed", str(seed))
    try:
        assert proc.stdout is not None
        lines = dict(proc.stdout.readline().strip().split("=", 1) for _ in range(4))
        assert lines["VAULT_TOKEN"] == "dev-root"
        client = hvac.Client(url=lines["VAULT_ADDR"], token="dev-root")
        read = client.secrets.kv.v2.read_secret_version("alpaca", raise_on_deleted_version=True)
        assert read["data"]["data"] == {"api_key_id": "id"}
        assert client.secrets.kv.v1.read_secret("db", mount_point="kv1")["data"]["password"] == "pw"
        approle = hvac.Client(url=lines["VAULT_ADDR"])
        approle.auth.approle.login(
            role_id=lines["VAULT_ROLE_ID"], secret_id=lines["VAULT_SECRET_ID"]
        )
        assert approle.is_authenticated()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        proc.kill()
        proc.wait()


def test_refuses_non_loopback_host(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.run(_parse(["--host", "0.0.0.0", "--port", "0"])) == 2
    assert "--allow-remote" in capsys.readouterr().err


def test_allow_remote_warns(capsys: pytest.CaptureFixture[str]) -> None:
    args = _parse(["--host", "0.0.0.0", "--port", "0", "--allow-remote"])
    args.stop_event = threading.Event()
    args.stop_event.set()
    assert cli.run(args) == 0
    captured = capsys.readouterr()
    assert "WARNING" in captured.err and "VAULT_ADDR=http://0.0.0.0:" in captured.out


def test_bad_seed_is_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps({"secrets": {"nomount/x": {"k": "canary-value"}}}))
    assert cli.run(_parse(["--port", "0", "--seed", str(seed)])) == 2
    err = capsys.readouterr().err
    assert "nomount/x" in err and "canary-value" not in err


def test_port_in_use_is_runtime_error(capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        assert cli.run(_parse(["--port", str(port)])) == 1
    assert "cannot listen" in capsys.readouterr().err


def test_flavor_openbao_words_a_dead_token_as_openbao() -> None:
    proc = _spawn("--port", "0", "--flavor", "openbao")
    try:
        assert proc.stdout is not None
        lines = dict(proc.stdout.readline().strip().split("=", 1) for _ in range(2))
        assert lines["VAULT_TOKEN"].startswith("s.")
        with pytest.raises(hvac.exceptions.Forbidden) as info:
            hvac.Client(url=lines["VAULT_ADDR"], token="s.dead").secrets.kv.v2.read_secret_version(
                "a", raise_on_deleted_version=True
            )
        assert info.value.errors == ["permission denied"]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        proc.kill()
        proc.wait()


def test_unknown_flavor_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        _parse(["--flavor", "consul"])
    assert info.value.code == 2
    assert "invalid choice: 'consul'" in capsys.readouterr().err
