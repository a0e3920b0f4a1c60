"""Path logic of the file backend on pyfakefs: fast, no real file system.

These cover where a key is looked up; the real-tmpfs tests (modes, another user, watchdog
rotation, FIFOs) are in ``test_file_backend.py`` and the contract suite. The fake file system
has no ``openat2`` system call, so the portable component-by-component walk is what runs here.
"""

from __future__ import annotations

import pytest
from libs.secrets import (
    FileSecretManager,
    SecretAccessDeniedError,
    SecretBackendUnavailableError,
    SecretNotFoundError,
    beneath,
)


@pytest.fixture(autouse=True)
def walk_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Take the walk: a real syscall would look at the real file system, not the fake one."""
    monkeypatch.setattr(beneath, "_openat2", None)
    monkeypatch.setattr(beneath, "_probed", True)


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, "/run/secrets"),
        ({"CREDENTIALS_DIRECTORY": "/run/credentials/app.service"}, "/run/credentials/app.service"),
        (
            {"CREDENTIALS_DIRECTORY": "/run/credentials/app.service", "SECRETS_DIR": "/srv/s"},
            "/srv/s",
        ),
    ],
)
def test_directory_comes_from_the_environment(fs, environ, expected) -> None:
    fs.create_file(f"{expected}/db/password", contents="pw")
    with FileSecretManager(environ=environ, watch=False) as manager:
        assert str(manager.directory) == expected
        assert manager.get_secret("db/password") == "pw"


def test_nested_key_and_load_credential_name(fs) -> None:
    fs.create_file("/s/a/b/c", contents="nested")
    fs.create_file("/s/alpaca_api_key_id", contents="from LoadCredential")
    with FileSecretManager("/s", watch=False) as manager:
        assert manager.get_secret("a/b/c") == "nested"
        assert manager.get_secret("alpaca/api_key_id") == "from LoadCredential"


def test_exact_bytes_nothing_stripped(fs) -> None:
    fs.create_file("/s/k", contents=" value with spaces and a newline\n")
    with FileSecretManager("/s", watch=False) as manager:
        assert manager.get_secret("k") == " value with spaces and a newline\n"


def test_missing_file_is_not_found_missing_directory_is_unavailable(fs) -> None:
    fs.create_dir("/s")
    with FileSecretManager("/s", watch=False) as manager, pytest.raises(SecretNotFoundError):
        manager.get_secret("nope/field")
    absent = FileSecretManager("/absent", watch=False)
    with absent, pytest.raises(SecretBackendUnavailableError):
        absent.get_secret("nope/field")


def test_symlink_inside_works_symlink_outside_is_refused(fs) -> None:
    fs.create_file("/s/..data/token", contents="k8s layout")
    fs.create_symlink("/s/token", "..data/token")
    fs.create_file("/elsewhere/secret", contents="not yours")
    fs.create_symlink("/s/escape", "/elsewhere/secret")
    with FileSecretManager("/s", watch=False) as manager:
        assert manager.get_secret("token") == "k8s layout"
        with pytest.raises(SecretAccessDeniedError):
            manager.get_secret("escape")
