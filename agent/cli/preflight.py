"""Load the config for a command, then look at what could betray it before any secret moves.

Checked after a successful load (``run``, ``check`` and ``exec``):

* the config file and every credential file it names (``token_file``, ``role_id_file``,
  ``secret_id_file``, ``jwt_file``, ``ca_cert``) with ``filechecks``: owned by another user,
  writable by others, in a directory others can rename entries in, or (config with an inline
  ``token``/``secret_id``, token and secret_id files) readable by others;
* a plain ``http://`` address off loopback (Vault ``address``, AWS ``endpoint_url``): tokens and
  secret values would cross the network unencrypted.

Each finding is one WARNING log line (``check`` prints it instead, as ``WARN  ...``). With
``[agent] refuse_unsafe_files = true`` a file finding is an error: the command stops with exit
code 2 before it authenticates or writes anything.
"""

from __future__ import annotations

import ipaddress
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from secrets_agent.cli.filechecks import file_problems
from secrets_agent.config.load import Config, ConfigError, VaultBackendConfig, load_config

log = logging.getLogger("secrets_agent")


def load_reported(path: str, error: Callable[[str], None] | None = None) -> Config | None:
    """The config at ``path``, or ``None`` after reporting every problem on stderr (or only the
    first, on one line, through ``error``)."""
    try:
        return load_config(path)
    except ConfigError as exc:
        problems = exc.problems or [str(exc)]
        if error is not None:
            more = f" (and {len(problems) - 1} more; see secrets-agent check)"
            where = "" if problems[0].startswith(str(path)) else f" {path}"
            error(f"invalid config{where}: {problems[0]}{more if len(problems) > 1 else ''}")
            return None
        print(f"secrets-agent: invalid config {path}:", file=sys.stderr)
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
        return None


def load_checked(
    path: str, *, echo: bool = False, error: Callable[[str], None] | None = None
) -> Config | None:
    """``load_reported``, then the checks above; ``None`` if the config is invalid or refused.

    ``echo``: print findings to stdout (``check``) instead of logging them.
    """
    config = load_reported(path, error)
    if config is None:
        return None
    files = unsafe_files(config)
    if files and config.agent.refuse_unsafe_files:
        report = error or (lambda text: print(f"secrets-agent: {text}", file=sys.stderr))
        for problem in files:
            report(f"refusing to start (refuse_unsafe_files): {problem}")
        return None
    for finding in [*files, *plain_http(config)]:
        if echo:
            print(f"WARN  {finding}")
        else:
            log.warning("%s", finding)
    return config


def unsafe_files(config: Config) -> list[str]:
    """Problems with the config file and the credential files it names (see the module doc)."""
    problems: list[str] = []
    if config.source is not None:
        inline = config.inline_credential
        what = "config file (with an inline credential)" if inline else "config file"
        problems += file_problems(config.source, what, secret=inline)
    backend = config.backend
    if isinstance(backend, VaultBackendConfig):
        auth = backend.auth
        named: list[tuple[str, Path | None, bool]] = [
            ("token_file", auth.token_file, True),
            ("secret_id_file", auth.secret_id_file, True),
            ("role_id_file", auth.role_id_file, False),
            ("ca_cert", backend.ca_cert, False),
        ]
        if auth.method == "kubernetes":
            named.append(("jwt_file", auth.jwt_file, False))  # 0644 in pods by default
        for what, file, secret in named:
            if file is not None:
                problems += file_problems(file, what, secret=secret)
    return problems


def plain_http(config: Config) -> list[str]:
    """A warning for each backend address that is plain HTTP to a host off loopback (every
    node of a Vault address list)."""
    backend = config.backend
    if isinstance(backend, VaultBackendConfig):
        key, urls = "backend.address", backend.all_addresses
    else:
        key, urls = "backend.endpoint_url", (backend.endpoint_url or "",)
    warnings = []
    for url in urls:
        parts = urlsplit(url)
        if parts.scheme.lower() == "http" and not is_loopback(parts.hostname or ""):
            warnings.append(
                f"{key} {url} is plain HTTP to a host off loopback: credentials and secret"
                " values cross the network unencrypted (use https://)"
            )
    return warnings


def is_loopback(host: str) -> bool:
    """Whether ``host`` is ``localhost`` or a loopback address."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
