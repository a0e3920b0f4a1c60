"""Credential files: read at use, stripped, empty or unreadable files named in one line."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from libs.secrets._core.credentials import CredentialFileError, read_credential_file


def test_reads_and_strips(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text("  s.abc\n")
    assert read_credential_file(path, "token") == "s.abc"
    path.write_text("s.new\n")  # rotated: the next read sees it
    assert read_credential_file(str(path), "token") == "s.new"


@pytest.mark.parametrize(
    ("content", "problem"), [(b"\n", "is empty"), (b"\xff\xfe", "not UTF-8"), (None, "cannot read")]
)
def test_problems_name_the_file_never_the_content(
    tmp_path: Path, content: bytes | None, problem: str
) -> None:
    path = tmp_path / "secret_id"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(CredentialFileError, match=problem) as info:
        read_credential_file(path, "secret_id")
    message = str(info.value)
    assert str(path) in message and "secret_id" in message and "\n" not in message
    assert info.value.__cause__ is None


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to drop to uid 65534")
def test_permission_denied_as_another_user(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text("s.abc")
    path.chmod(0o600)
    pid = os.fork()
    if pid == 0:  # child: become nobody and try
        try:
            os.setuid(65534)
            read_credential_file(path, "token")
        except CredentialFileError as exc:
            os._exit(0 if "Permission denied" in str(exc) else 2)
        os._exit(1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
