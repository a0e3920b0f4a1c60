"""Who besides the agent could read or replace a file: real files, real modes, uid 65534."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from secrets_agent.cli.filechecks import Trust, file_problems

NOBODY = 65534
pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to chown to uid 65534")


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A private directory owned by the agent (root) in a chain of safe directories."""
    directory = tmp_path / "home"
    directory.mkdir(mode=0o700)
    return directory


def _file(directory: Path, mode: int, uid: int = 0, gid: int = 0) -> Path:
    path = directory / "token"
    path.write_text("t")
    path.chmod(mode)
    os.chown(path, uid, gid)
    return path


def test_a_private_file_of_the_agent_is_fine(home: Path) -> None:
    assert file_problems(_file(home, 0o600), "token_file", secret=True) == []
    assert file_problems(home / "absent", "token_file", secret=True) == []


def test_owned_by_another_user(home: Path) -> None:
    (problem,) = file_problems(_file(home, 0o600, uid=NOBODY), "token_file", secret=True)
    assert problem.startswith(f"token_file {home / 'token'} is owned by")
    assert f"uid {NOBODY}" in problem


def test_writable_or_readable_by_others(home: Path) -> None:
    assert file_problems(_file(home, 0o644), "ca_cert", secret=False) == []
    (readable,) = file_problems(_file(home, 0o644), "token_file", secret=True)
    assert "readable by every user (mode 0644)" in readable
    writable = file_problems(_file(home, 0o666), "ca_cert", secret=False)
    assert writable == [f"ca_cert {home / 'token'} is writable by every user (mode 0666)"]


def test_a_group_counts_unless_it_is_the_agents_or_roots(home: Path) -> None:
    own = os.getegid()
    assert file_problems(_file(home, 0o640, gid=own), "token_file", secret=True) == []
    assert file_problems(_file(home, 0o660, gid=0), "token_file", secret=True) == []
    problems = file_problems(_file(home, 0o660, gid=NOBODY), "token_file", secret=True)
    assert len(problems) == 2
    assert "writable by group" in problems[0] and "readable by group" in problems[1]
    agent = Trust(uid=1000, gid=1000)  # an agent running as another user trusts its own group
    assert (
        file_problems(_file(home, 0o640, uid=1000, gid=1000), "t", secret=True, trust=agent) == []
    )


def test_a_directory_others_control(home: Path) -> None:
    path = _file(home, 0o600)
    os.chown(home, NOBODY, NOBODY)
    (problem,) = file_problems(path, "secret_id_file", secret=True)
    assert f"its directory {home} is owned by" in problem
    os.chown(home, 0, 0)
    home.chmod(0o777)
    (problem,) = file_problems(path, "secret_id_file", secret=True)
    assert f"its directory {home} is writable by every user" in problem
    home.chmod(0o1777)  # sticky: others cannot rename or delete the agent's file
    assert file_problems(path, "secret_id_file", secret=True) == []


def test_a_symlink_is_judged_by_where_it_leads(home: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    target = _file(elsewhere, 0o600)
    os.chown(elsewhere, NOBODY, NOBODY)
    link = home / "link"
    link.symlink_to(target)
    (problem,) = file_problems(link, "token_file", secret=True)
    assert f"its directory {elsewhere} is owned by" in problem


def test_a_read_only_mount_cannot_be_changed_by_anyone(tmp_path: Path) -> None:
    """A Kubernetes ConfigMap volume: 0777 directories and another owner, but mounted read-only."""
    mount = tmp_path / "configmap"
    mount.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,mode=0777", "tmpfs", str(mount)],
                          capture_output=True, check=False)  # fmt: skip
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {made.stderr.decode().strip()}")
    try:
        config = _file(mount, 0o644, uid=NOBODY)
        assert len(file_problems(config, "config file", secret=False)) == 2  # owner, directory
        subprocess.run(["mount", "-o", "remount,ro", str(mount)], check=True)
        assert file_problems(config, "config file", secret=False) == []
        (readable,) = file_problems(config, "config file", secret=True)
        assert "readable by every user" in readable  # reading is still reading
    finally:
        subprocess.run(["umount", str(mount)], check=False)
