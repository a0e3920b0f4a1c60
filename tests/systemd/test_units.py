"""The shipped systemd files: lint-clean, hardened, and accepted by the kernel and sysusers.

All checks run offline (no systemd needs to be running). The units are copied into a temporary
unit directory with ``ExecStart=`` pointed at the installed ``secrets-agent`` executable, so
``systemd-analyze verify`` checks the real command line, and ``SYSTEMD_UNIT_PATH`` makes
cross-unit references (``Wants=secrets-agent.service``, drop-ins) resolve.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SYSTEMD_DIR = Path(__file__).resolve().parents[2] / "systemd"
EXAMPLES = SYSTEMD_DIR / "examples"
INSTALLED_PATH = "/usr/bin/secrets-agent"
MAX_EXPOSURE = 2.0

ANALYZE = shutil.which("systemd-analyze")
pytestmark = pytest.mark.skipif(ANALYZE is None, reason="systemd-analyze is not installed")


def _agent_executable() -> str:
    """The installed console script (next to this interpreter, else on PATH)."""
    candidate = Path(sys.executable).with_name("secrets-agent")
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return str(candidate)
    found = shutil.which("secrets-agent")
    if found is None:
        pytest.fail("the secrets-agent console script is not installed")
    return found


def _analyze(args: list[str], unit_dir: Path) -> subprocess.CompletedProcess[str]:
    assert ANALYZE is not None
    env = {**os.environ, "SYSTEMD_UNIT_PATH": f"{unit_dir}:", "SYSTEMD_LOG_COLOR": "0"}
    return subprocess.run(
        [ANALYZE, *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=unit_dir,
        timeout=60,
        check=False,
    )


@pytest.fixture
def unit_dir(tmp_path: Path) -> Path:
    """A unit directory holding every shipped unit, the examples, and a stub consumer."""
    agent = _agent_executable()
    for source in [*SYSTEMD_DIR.glob("*.service"), *SYSTEMD_DIR.glob("*.mount")]:
        text = source.read_text()
        (tmp_path / source.name).write_text(text.replace(INSTALLED_PATH, agent))
    for name in ("myapp-secrets-restart.path", "myapp-secrets-restart.service"):
        shutil.copy(EXAMPLES / name, tmp_path / name)
    (tmp_path / "myapp.service").write_text(
        "[Unit]\nDescription=stub consumer\n[Service]\nExecStart=/bin/sleep infinity\n"
    )
    return tmp_path


def _add_dropin(unit_dir: Path, unit: str, example: str) -> None:
    dropins = unit_dir / f"{unit}.d"
    dropins.mkdir(exist_ok=True)
    shutil.copy(EXAMPLES / example, dropins / example)


def _verify(unit_dir: Path, *units: str) -> str:
    result = _analyze(["verify", "--man=no", "--generators=no", *units], unit_dir)
    # verify exits 0 on warnings ("Unknown key ..."); the contract is that it prints nothing.
    return (result.stdout + result.stderr).strip() + ("" if result.returncode == 0 else " [rc]")


def _exposure(unit_dir: Path, unit: str) -> float:
    result = _analyze(["security", "--offline=true", "--no-pager", unit], unit_dir)
    match = re.search(rf"Overall exposure level for {re.escape(unit)}: (\d+\.\d+)", result.stdout)
    assert match, result.stdout + result.stderr
    return float(match.group(1))


def test_shipped_units_exist() -> None:
    names = {p.name for p in SYSTEMD_DIR.iterdir()}
    assert {"secrets-agent.service", "run-secrets.mount", "agent.toml.example"} <= names


def test_agent_and_mount_verify_cleanly(unit_dir: Path) -> None:
    assert _verify(unit_dir, "secrets-agent.service", "run-secrets.mount") == ""


def test_verify_reports_a_missing_executable(unit_dir: Path) -> None:
    # Guards the check above: verify really looks at ExecStart= in this setup.
    unit = unit_dir / "secrets-agent.service"
    unit.write_text(unit.read_text().replace(_agent_executable(), "/nonexistent/secrets-agent"))
    assert "is not executable" in _verify(unit_dir, "secrets-agent.service")


def test_verify_reports_unknown_directives(unit_dir: Path) -> None:
    _add_dropin(unit_dir, "myapp.service", "myapp-files.conf")
    (unit_dir / "myapp.service.d" / "zz-typo.conf").write_text("[Service]\nLoadCredentiall=x\n")
    assert "Unknown key" in _verify(unit_dir, "myapp.service")


@pytest.mark.parametrize("dropin", ["myapp-credentials.conf", "myapp-files.conf"])
def test_consumer_dropins_verify_cleanly(unit_dir: Path, dropin: str) -> None:
    _add_dropin(unit_dir, "myapp.service", dropin)
    assert _verify(unit_dir, "myapp.service") == ""


def test_restart_on_rotation_units_verify_cleanly(unit_dir: Path) -> None:
    assert _verify(unit_dir, "myapp-secrets-restart.path", "myapp-secrets-restart.service") == ""


def test_agent_exposure_within_target(unit_dir: Path) -> None:
    score = _exposure(unit_dir, "secrets-agent.service")
    assert score <= MAX_EXPOSURE, f"exposure {score} > {MAX_EXPOSURE}"


def test_consumer_groups_dropin_verifies_and_stays_within_target(unit_dir: Path) -> None:
    _add_dropin(unit_dir, "secrets-agent.service", "secrets-agent-consumer-groups.conf")
    assert _verify(unit_dir, "secrets-agent.service") == ""
    score = _exposure(unit_dir, "secrets-agent.service")
    assert score <= MAX_EXPOSURE, f"exposure {score} > {MAX_EXPOSURE}"


def test_exposure_parser_sees_a_weak_unit(tmp_path: Path) -> None:
    # The threshold check can fail: an unsandboxed unit scores far above it.
    (tmp_path / "naive.service").write_text(
        "[Service]\nType=notify\nUser=nobody\nExecStart=/bin/true\n"
    )
    assert _exposure(tmp_path, "naive.service") > 9.0


def _directives(text: str) -> list[tuple[int, str, bool]]:
    """(line number, directive, whether its paragraph has a comment) for each setting."""
    found: list[tuple[int, str, bool]] = []
    paragraph: list[tuple[int, str]] = []
    for number, line in enumerate([*text.splitlines(), ""], start=1):
        if line.strip():
            paragraph.append((number, line.strip()))
            continue
        commented = any(item.startswith("#") for _, item in paragraph)
        for lineno, item in paragraph:
            if "=" in item and not item.startswith(("#", "[")):
                found.append((lineno, item.split("=", 1)[0], commented))
        paragraph = []
    return found


@pytest.mark.parametrize(
    "path",
    [SYSTEMD_DIR / "secrets-agent.service", SYSTEMD_DIR / "run-secrets.mount"],
    ids=lambda p: p.name,
)
def test_every_directive_is_explained(path: Path) -> None:
    bare = [f"{n}:{d}" for n, d, commented in _directives(path.read_text()) if not commented]
    # [Install] and Description/Documentation explain themselves.
    bare = [b for b in bare if not b.endswith(("WantedBy", "Description", "Documentation"))]
    assert bare == []


def test_required_hardening_present() -> None:
    text = (SYSTEMD_DIR / "secrets-agent.service").read_text()
    settings = dict(
        (key, value)
        for key, value in (
            line.split("=", 1) for line in text.splitlines() if re.match(r"^[A-Z]\w+=", line)
        )
    )
    expected = {
        "Type": "notify",
        "NotifyAccess": "main",
        "ExecReload": "/bin/kill -HUP $MAINPID",
        "Restart": "on-failure",
        "User": "secrets-agent",
        "RuntimeDirectory": "secrets",
        "RuntimeDirectoryMode": "0750",
        "RuntimeDirectoryPreserve": "restart",
        "UMask": "0077",
        "LimitCORE": "0",
        "MemorySwapMax": "0",
        "CapabilityBoundingSet": "",
        "NoNewPrivileges": "yes",
        "MemoryDenyWriteExecute": "yes",
        "ProtectSystem": "strict",
        "ProtectProc": "invisible",
        "RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6",
    }
    assert {k: settings.get(k) for k in expected} == expected
    assert "WatchdogSec" in settings
    assert any(k.startswith("LoadCredential") for k in settings)


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")
def test_mount_options_are_accepted_by_this_kernel(tmp_path: Path) -> None:
    text = (SYSTEMD_DIR / "run-secrets.mount").read_text()
    match = re.search(r"^Options=(.+)$", text, re.MULTILINE)
    assert match
    options = match.group(1)
    target = tmp_path / "mnt"
    target.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(target)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        release = os.uname().release
        if "bad option" in mounted.stderr and "noswap" in options:
            pytest.skip(f"kernel {release} lacks tmpfs noswap (needs >= 6.4)")
        pytest.skip(f"cannot mount here: {mounted.stderr.strip()}")
    try:
        info = [
            line
            for line in Path("/proc/self/mountinfo").read_text().splitlines()
            if f" {target} " in line
        ]
        assert len(info) == 1
        super_options = info[0].split(" - ", 1)[1]
        assert "noswap" in super_options
        assert "mode=750" in super_options
        assert {"nosuid", "nodev", "noexec"} <= set(info[0].split()[5].split(","))
    finally:
        subprocess.run(["umount", str(target)], check=False)


def test_sysusers_entry_creates_the_user(tmp_path: Path) -> None:
    sysusers = shutil.which("systemd-sysusers")
    if sysusers is None:
        pytest.skip("systemd-sysusers is not installed")
    (tmp_path / "etc").mkdir()
    result = subprocess.run(
        [sysusers, f"--root={tmp_path}", str(SYSTEMD_DIR / "secrets-agent.sysusers")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    passwd = (tmp_path / "etc" / "passwd").read_text()
    assert re.search(r"^secrets-agent:x:\d+:\d+:.*:/usr/sbin/nologin$", passwd, re.MULTILINE)
    assert re.search(r"^secrets-agent:x:\d+:", (tmp_path / "etc" / "group").read_text(), re.M)


def test_config_example_loads_with_the_units_credential() -> None:
    from secrets_agent.config.load import load_config

    credentials = "/run/credentials/secrets-agent.service"
    config = load_config(
        SYSTEMD_DIR / "agent.toml.example", environ={"CREDENTIALS_DIRECTORY": credentials}
    )
    unit = (SYSTEMD_DIR / "secrets-agent.service").read_text()
    runtime_dir = re.search(r"^RuntimeDirectory=(\S+)$", unit, re.MULTILINE)
    credential = re.search(r"^LoadCredential(?:Encrypted)?=([^:\s]+):", unit, re.MULTILINE)
    assert runtime_dir and credential
    assert str(config.agent.output_dir) == f"/run/{runtime_dir.group(1)}"
    auth = config.backend.auth  # type: ignore[union-attr]
    assert str(auth.secret_id_file) == f"{credentials}/{credential.group(1)}"
    assert "/etc/secrets-agent/agent.toml" in unit
