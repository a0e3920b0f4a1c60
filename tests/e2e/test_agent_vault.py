"""End to end: `secrets-agent` in a subprocess against the Vault dev server, writing to tmpfs."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC")}
    env.update(extra)
    return env


def _config(path: Path, out: Path, vault: Any, paths: list[str], interval: str = "5m") -> Path:
    secrets = "".join(f'[[secrets]]\npath = "{p}"\n' for p in paths)
    path.write_text(
        f"""
[agent]
output_dir = "{out}"
refresh_interval = "{interval}"
[backend]
type = "vault"
address = "{vault.url}"
auth = {{ method = "token", token = "{vault.root_token}" }}
timeout = "2s"
{secrets}"""
    )
    return path


def _run_once(config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "secrets_agent", "--log-level", "debug", "run", "--once",
         "--config", str(config)],
        capture_output=True, text=True, timeout=60, env=_env(),
    )  # fmt: skip


def _wait(predicate: Callable[[], bool], timeout: float) -> float | None:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if predicate():
            return time.monotonic() - start
        time.sleep(0.02)
    return None


def _snapshot(root: Path) -> dict[str, tuple[int, bytes]]:
    return {
        str(p.relative_to(root)): (p.stat().st_ino, p.read_bytes())
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.name.startswith(".")
    }


def test_run_once_writes_private_files(
    vault: Any, tmp_path: Path, tmpfs_dir: Path, canary: str
) -> None:
    vault.put_secret("alpaca", {"api_key_id": "id-1", "secret": canary})
    out = tmpfs_dir / "out"
    result = _run_once(_config(tmp_path / "c.toml", out, vault, ["alpaca"]))
    assert result.returncode == 0, result.stderr
    key = out / "alpaca" / "secret"
    assert key.read_text() == canary  # exact bytes, no newline added
    assert key.stat().st_mode & 0o777 == 0o400
    assert out.stat().st_mode & 0o777 == 0o700
    assert canary not in result.stderr + result.stdout
    # A real other user cannot read the file, even with the directories opened for traversal.
    for directory in (tmpfs_dir, out, out / "alpaca"):
        os.chmod(directory, 0o711)  # noqa: S103
    denied = subprocess.run(
        ["cat", str(key)], capture_output=True, text=True, user=65534, group=65534, timeout=10
    )
    assert denied.returncode != 0 and canary not in denied.stdout


def test_run_once_with_a_missing_secret_exits_1_and_writes_the_rest(
    vault: Any, tmp_path: Path, tmpfs_dir: Path
) -> None:
    vault.put_secret("good", {"k": "v"})
    out = tmpfs_dir / "out"
    result = _run_once(_config(tmp_path / "c.toml", out, vault, ["good", "absent"]))
    assert result.returncode == 1
    assert (out / "good" / "k").read_text() == "v"
    assert "absent" in result.stderr


def test_daemon_rotation_outage_reload_and_stop(
    vault: Any, tmp_path: Path, tmpfs_dir: Path, canary: str
) -> None:
    out = tmpfs_dir / "out"
    vault.put_secret("app", {"password": canary + "-1"})
    vault.put_secret("other", {"k": canary + "-o"})
    config = _config(tmp_path / "c.toml", out, vault, ["app", "other"], interval="1s")
    notify_path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(notify_path)
    sock.settimeout(0.1)
    messages: list[str] = []
    done = threading.Event()

    def drain() -> None:  # like systemd, always read the notifications
        while not done.is_set():
            try:
                messages.extend(sock.recv(4096).decode().split("\n"))
            except TimeoutError:
                continue

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()

    def seen(message: str) -> bool:
        return message in list(messages)

    stderr_file = tmp_path / "stderr"
    with stderr_file.open("w") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-m", "secrets_agent", "--log-level", "debug", "run",
             "--config", str(config)],
            stdout=subprocess.DEVNULL, stderr=stderr,
            env=_env(NOTIFY_SOCKET=notify_path, WATCHDOG_USEC="1000000"),
        )  # fmt: skip
        try:
            assert _wait(lambda: seen("READY=1"), 20) is not None, stderr_file.read_text()
            password = out / "app" / "password"
            assert password.read_text() == canary + "-1"
            assert _wait(lambda: seen("WATCHDOG=1"), 3) is not None

            # Rotation is seen within one refresh interval (1 s, +-10%) plus slack.
            vault.put_secret("app", {"password": canary + "-2"})
            took = _wait(lambda: password.read_text() == canary + "-2", 5)
            assert took is not None and took < 2.0

            # Sealed: files untouched (same inode, same content) across several attempts.
            before = _snapshot(out)
            vault.seal()
            time.sleep(2.5)
            assert _snapshot(out) == before
            assert "Vault unavailable" in stderr_file.read_text()

            # Unsealed: recovers and picks up the next rotation.
            vault.unseal()
            vault.put_secret("app", {"password": canary + "-3"})
            assert _wait(lambda: password.read_text() == canary + "-3", 6) is not None

            # SIGHUP with a broken config keeps the current one in force.
            good_config = config.read_text()
            config.write_text(good_config + "\n[[secrets]]\npath = 7\n")
            messages.clear()
            proc.send_signal(signal.SIGHUP)
            assert _wait(lambda: seen("RELOADING=1") and seen("READY=1"), 10) is not None
            assert _wait(lambda: "reload failed" in stderr_file.read_text(), 5) is not None
            assert (out / "other").exists()
            vault.put_secret("app", {"password": canary + "-4"})
            assert _wait(lambda: password.read_text() == canary + "-4", 5) is not None

            # SIGHUP with a secret removed from the config prunes its files.
            messages.clear()
            _config(config, out, vault, ["app"], interval="1s")
            proc.send_signal(signal.SIGHUP)
            assert _wait(lambda: seen("RELOADING=1") and seen("READY=1"), 10) is not None
            assert _wait(lambda: not (out / "other").exists(), 5) is not None
            assert password.exists()

            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=15) == 0
            assert seen("STOPPING=1")
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            done.set()
            reader.join()
            sock.close()
    log = stderr_file.read_text()
    assert "refresh of app failed" in log  # the failure path was exercised at DEBUG
    assert canary not in log
