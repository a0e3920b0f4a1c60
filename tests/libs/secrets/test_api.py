"""The public surface: __all__, the error hierarchy, the seed's examples, lazy imports."""

from __future__ import annotations

import subprocess
import sys

import libs.secrets
import pytest
from libs.secrets import (
    InvalidSecretKeyError,
    SecretAccessDeniedError,
    SecretBackendUnavailableError,
    SecretConfigurationError,
    SecretManagerError,
    SecretNotFoundError,
)


def test_all_is_the_contract() -> None:
    assert set(libs.secrets.__all__) == {
        "SecretManager",
        "create_secret_manager",
        "EnvSecretManager",
        "FileSecretManager",
        "VaultSecretManager",
        "AWSSecretsManager",
        "SecretCache",
        "SecretManagerError",
        "SecretNotFoundError",
        "SecretAccessDeniedError",
        "SecretBackendUnavailableError",
        "SecretConfigurationError",
        "InvalidSecretKeyError",
    }
    for name in libs.secrets.__all__:
        assert getattr(libs.secrets, name) is not None


def test_error_hierarchy() -> None:
    for error in (
        SecretNotFoundError,
        SecretAccessDeniedError,
        SecretBackendUnavailableError,
        SecretConfigurationError,
        InvalidSecretKeyError,
    ):
        assert issubclass(error, SecretManagerError)
    assert issubclass(SecretNotFoundError, KeyError)
    assert issubclass(SecretConfigurationError, ValueError)
    assert issubclass(InvalidSecretKeyError, ValueError)


def test_errors_carry_context_and_a_plain_message() -> None:
    error = SecretNotFoundError("secret 'a/b' not found", backend="file", key="a/b")
    assert str(error) == "secret 'a/b' not found"  # not KeyError's "'...'" quoting
    assert error.backend == "file"
    assert error.key == "a/b"
    assert "a/b" in repr(error)


def test_abstract_manager_cannot_be_built() -> None:
    with pytest.raises(TypeError):
        libs.secrets.SecretManager()  # type: ignore[abstract]


def test_seed_example_1(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALPACA_API_KEY_ID", "PKTEST123")
    from libs.secrets import create_secret_manager

    manager = create_secret_manager()
    value = manager.get_secret("alpaca/api_key_id")
    assert value == "PKTEST123"
    assert manager.backend == "env"


def test_seed_example_2() -> None:
    from libs.secrets import SecretCache

    cache = SecretCache(ttl_seconds=3600)
    cache.set("alpaca/api_key_id", "v")
    assert cache.get("alpaca/api_key_id") == "v"


HEAVY = ("hvac", "boto3", "botocore", "requests", "apscheduler", "watchdog", "urllib3")


def test_import_loads_no_optional_sdk() -> None:
    code = (
        "import sys, libs.secrets\n"
        "from libs.secrets import *\n"
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == ""


def test_bare_import_loads_no_submodule_and_no_heavy_stdlib() -> None:
    code = (
        "import sys, libs.secrets\n"
        "names = [m for m in sys.modules if m.startswith('libs.secrets.')]\n"
        "names += [m for m in ('dataclasses', 'json', 'logging', 'typing') if m in sys.modules]\n"
        "print(','.join(names))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == ""


def test_public_names_resolve_lazily_and_are_listed() -> None:
    code = (
        "import sys, libs.secrets\n"
        "assert set(libs.secrets.__all__) <= set(dir(libs.secrets))\n"
        "from libs.secrets import create_secret_manager, SecretNotFoundError\n"
        "assert 'libs.secrets.backends.vault' not in sys.modules\n"
        "assert 'libs.secrets.backends.aws' not in sys.modules\n"
        "for name in libs.secrets.__all__:\n"
        "    obj = getattr(libs.secrets, name)\n"
        "    assert getattr(obj, '__name__', name) in (name, 'SecretManagerFactory'), name\n"
        "print(libs.secrets.SecretNotFoundError is SecretNotFoundError)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "True"


def test_unknown_attribute_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no_such_name"):
        libs.secrets.no_such_name  # noqa: B018


def test_building_managers_loads_no_optional_sdk(tmp_path: object) -> None:
    code = (
        "import sys\n"
        "from libs.secrets import VaultSecretManager, AWSSecretsManager, FileSecretManager\n"
        "VaultSecretManager({'address': 'http://127.0.0.1:1', 'token': 't'})\n"
        "AWSSecretsManager({'region': 'us-east-1'})\n"
        f"FileSecretManager({str(tmp_path)!r})\n"
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == ""


def test_a_manager_loads_neither_asyncio_nor_logging_until_used(tmp_path: object) -> None:
    code = (
        "import sys\n"
        "from libs.secrets import FileSecretManager\n"
        f"FileSecretManager({str(tmp_path)!r}, watch=False)\n"
        "print(','.join(m for m in ('asyncio', 'concurrent.futures', 'logging', 'queue')"
        " if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == ""


def test_every_manager_has_the_async_read() -> None:
    import inspect

    from libs.secrets import SecretManager

    assert inspect.iscoroutinefunction(SecretManager.aget_secret)
    for name in (
        "EnvSecretManager",
        "FileSecretManager",
        "VaultSecretManager",
        "AWSSecretsManager",
    ):
        assert getattr(libs.secrets, name).aget_secret is SecretManager.aget_secret
