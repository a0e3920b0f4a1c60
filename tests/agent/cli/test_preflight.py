"""Attacks on the files the agent trusts, performed as uid 65534, and the plain-HTTP warning."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from secrets_agent.cli.preflight import load_checked, plain_http

NOBODY = 65534
as_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to act as uid 65534")


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NOTIFY_SOCKET", "VAULT_TOKEN")}
    return subprocess.run(
        [sys.executable, "-m", "secrets_agent", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


def as_nobody(action: Callable[[], None]) -> bool:
    """Run ``action`` in a child that dropped to uid/gid 65534; whether it succeeded."""
    pid = os.fork()
    if pid == 0:
        try:
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            action()
            os._exit(0)
        except BaseException:
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) == 0


def _config(path: Path, out: Path, vault: Any, auth: str, extra: str = "") -> Path:
    path.write_text(
        f'[agent]\noutput_dir = "{out}"\n{extra}\n[backend]\ntype = "vault"\n'
        f'address = "{vault.url}"\nauth = {auth}\n[[secrets]]\npath = "app"\n'
    )
    path.chmod(0o600)
    return path


@as_root
def test_a_token_file_another_user_owns_is_refused_and_nothing_is_lost(
    vault: Any, tmp_path: Path, tmpfs_dir: Path, canary: str
) -> None:
    vault.put_secret("app", {"password": canary})
    out = tmpfs_dir / "out"
    tmpfs_dir.chmod(0o711)  # the other user can reach the credentials directory
    creds = tmpfs_dir / "creds"
    creds.mkdir(mode=0o755)
    token_file = creds / "token"
    token_file.write_text(vault.root_token)
    token_file.chmod(0o600)
    auth = f'{{ method = "token", token_file = "{token_file}" }}'
    config = _config(tmp_path / "agent.toml", out, vault, auth, "refuse_unsafe_files = true")
    first = cli("run", "--once", "--config", str(config))
    assert first.returncode == 0, first.stderr
    assert (out / "app" / "password").read_text() == canary

    # The file was handed to another user; that user swaps in a token of their own, whose
    # identity reads values of their choosing.
    os.chown(token_file, NOBODY, NOBODY)
    attacker_token = vault.create_token()
    assert as_nobody(lambda: token_file.write_text(attacker_token))
    vault.put_secret("app", {"password": "chosen-by-the-attacker"})
    vault.reset_counters()
    for command in (["run", "--once"], ["check"]):
        refused = cli(*command, "--config", str(config))
        assert refused.returncode == 2, refused.stderr
        assert "refusing to start (refuse_unsafe_files)" in refused.stderr
        assert f"token_file {token_file} is owned by" in refused.stderr
        assert f"uid {NOBODY}" in refused.stderr
    assert vault.request_count == 0  # it never logged in with the planted token
    assert (out / "app" / "password").read_text() == canary  # nothing lost

    # Without the switch: the same finding, loudly, on every command that uses the file.
    warn_only = _config(tmp_path / "warn.toml", out, vault, auth)
    checked = cli("check", "--config", str(warn_only))
    assert f"WARN  token_file {token_file} is owned by" in checked.stdout
    ran = cli("run", "--once", "--config", str(warn_only))
    assert ran.returncode == 0
    assert f" warning secrets_agent: token_file {token_file} is owned by" in ran.stderr
    for output in (checked.stdout, checked.stderr, ran.stderr):
        assert vault.root_token not in output and attacker_token not in output


@as_root
def test_a_config_others_can_read_or_write_is_reported_and_its_token_never_shown(
    vault: Any, tmp_path: Path, tmpfs_dir: Path
) -> None:
    vault.put_secret("app", {"password": "p"})
    tmpfs_dir.chmod(0o711)  # the other user can reach the config, as under /etc
    etc = tmpfs_dir / "etc"
    etc.mkdir(mode=0o755)
    inline = f'{{ method = "token", token = "{vault.root_token}" }}'
    config = _config(etc / "agent.toml", tmpfs_dir / "out", vault, inline)
    config.chmod(0o644)
    stolen: list[str] = []
    assert as_nobody(lambda: stolen.append(config.read_text()))  # the exposure is real
    checked = cli("check", "--config", str(config))
    assert checked.returncode == 0, checked.stderr
    assert (
        f"WARN  config file (with an inline credential) {config} holds a credential and is"
        " readable by every user (mode 0644)" in checked.stdout
    )
    config.chmod(0o666)
    assert as_nobody(lambda: config.open("a").write("\n# planted\n"))
    ran = cli("run", "--once", "--config", str(config))
    assert f"{config} is writable by every user (mode 0666)" in ran.stderr
    for output in (checked.stdout, checked.stderr, ran.stdout, ran.stderr):
        assert vault.root_token not in output

    token_file = etc / "token"
    token_file.write_text(vault.root_token)
    token_file.chmod(0o600)
    no_inline = _config(etc / "files.toml", tmpfs_dir / "out", vault,
                        f'{{ method = "token", token_file = "{token_file}" }}')  # fmt: skip
    no_inline.chmod(0o644)  # no credential in it: readable is fine
    clean = cli("check", "--config", str(no_inline))
    assert clean.returncode == 0 and "WARN" not in clean.stdout, clean.stdout


@pytest.mark.parametrize(
    ("backend", "warned"),
    [
        ('type = "vault"\naddress = "http://vault.example:8200"', True),
        ('type = "vault"\naddress = "http://10.0.0.5:8200"', True),
        ('type = "vault"\naddress = "https://vault.example:8200"', False),
        ('type = "vault"\naddress = "http://127.0.0.1:8200"', False),
        ('type = "vault"\naddress = "http://localhost:8200"', False),
        ('type = "vault"\naddress = "http://[::1]:8200"', False),
        ('type = "aws"\nregion = "eu-west-1"\nendpoint_url = "http://moto.internal:5000"', True),
        ('type = "aws"\nregion = "eu-west-1"', False),
        # Every node of an address list is looked at, not only the first.
        ('type = "vault"\naddress = ["https://a.example:8200", "http://b.example:8200"]', True),
        ('type = "vault"\naddress = ["https://a.example:8200", "http://127.0.0.1:8200"]', False),
    ],
)
def test_plain_http_off_loopback_is_warned(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], backend: str, warned: bool
) -> None:
    auth = (
        '\nauth = { method = "token", token_file = "/nonexistent" }' if "vault" in backend else ""
    )
    config = tmp_path / "agent.toml"
    config.write_text(
        f'[agent]\noutput_dir = "/run/x"\n[backend]\n{backend}{auth}\n[[secrets]]\npath = "a"\n'
    )
    config.chmod(0o600)
    loaded = load_checked(str(config), echo=True)
    assert loaded is not None
    assert bool(plain_http(loaded)) is warned
    out = capsys.readouterr().out
    assert ("plain HTTP to a host off loopback" in out) is warned
