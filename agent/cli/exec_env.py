"""The environment ``secrets-agent exec`` gives its command: an allow-list, never the login.

The agent's environment often holds what it logs in with (``VAULT_TOKEN``, AWS keys, systemd's
``CREDENTIALS_DIRECTORY``). The command, and everything it starts, can read its environment
(``/proc/PID/environ``), so it gets only:

* ``KEPT``: what a program needs to run and what the reader library reads (``PATH``, ``HOME``,
  ``USER``, ``LOGNAME``, ``SHELL``, ``TERM``, ``TZ``, ``LANG``, ``LANGUAGE``, ``LC_*``,
  ``TMPDIR``, ``HOSTNAME``, ``PWD``, ``SECRET_BACKEND``, ``SECRET_CACHE_TTL``, ``SECRETS_DIR``,
  ``ENVIRONMENT``, ``APP_ENV``);
* every variable chosen with ``--pass-env NAME`` (repeatable) or ``$SECRETS_AGENT_PASS_ENV``
  (names separated by spaces or commas). ``NAME`` may end in ``*`` to pass a family
  (``APP_*``), but a pattern never passes a credential (``VAULT_*``, ``BAO_*``, ``AWS_*``,
  ``CREDENTIALS_DIRECTORY``): those pass only when named exactly;
* ``SECRETS_DIR`` = the output directory unless it is already set.

Never passed, even when named: what belongs to the agent's own process (``NOTIFY_SOCKET``,
``WATCHDOG_USEC``, ``WATCHDOG_PID``, ``SECRETS_AGENT_*``).

Secrets are added on top, only those chosen (``--env NAME=key`` or ``[exec] env``): each value
is read from the agent's own files (``secret_values``: the reader's symlink-safe read of
``<output_dir>/<key>``) whenever the command is started, so a restart gets the current ones.
Their values are never logged; errors name the variable and the key.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from secrets_agent.config.exec_table import env_name_problem
from secrets_agent.hardening import CHILD_ENVIRONMENT, CHILD_ENVIRONMENT_PREFIXES

PASS_ENV_VARIABLE = "SECRETS_AGENT_PASS_ENV"  # noqa: S105 - a name, not a password
# What every child of the agent may inherit, plus what a workload's shell and the reader use.
KEPT = CHILD_ENVIRONMENT | {
    "SHELL", "TMPDIR", "HOSTNAME", "PWD",
    "SECRET_BACKEND", "SECRET_CACHE_TTL", "SECRETS_DIR", "ENVIRONMENT", "APP_ENV",
}  # fmt: skip
KEPT_PREFIXES = CHILD_ENVIRONMENT_PREFIXES
CREDENTIAL_PREFIXES = ("VAULT_", "BAO_", "AWS_")
CREDENTIAL_NAMES = frozenset({"CREDENTIALS_DIRECTORY"})
AGENT_ONLY_NAMES = frozenset({"NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"})
AGENT_ONLY_PREFIXES = ("SECRETS_AGENT_",)
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\*?")


@dataclass(frozen=True)
class ChildEnvironment:
    """What the command gets (``env``) and the names it does not get (``dropped``, sorted)."""

    env: dict[str, str]
    dropped: tuple[str, ...]


def parse_pass_env(options: Iterable[str], variable: str | None) -> tuple[str, ...]:
    """The ``--pass-env`` names plus those of ``$SECRETS_AGENT_PASS_ENV``; ``ValueError`` names
    the first one that is not a variable name (optionally ending in ``*``)."""
    names = [*options, *(variable or "").replace(",", " ").split()]
    for name in names:
        if not _NAME.fullmatch(name):
            raise ValueError(f"not a variable name (or NAME*): {name!r}")
    return tuple(names)


def is_credential(name: str) -> bool:
    """Whether ``name`` is one of the variables a login can come from."""
    return name in CREDENTIAL_NAMES or name.startswith(CREDENTIAL_PREFIXES)


def _agent_only(name: str) -> bool:
    return name in AGENT_ONLY_NAMES or name.startswith(AGENT_ONLY_PREFIXES)


def _chosen(name: str, passed: Iterable[str]) -> bool:
    for choice in passed:
        if choice == name:
            return True
        if choice.endswith("*") and name.startswith(choice[:-1]) and not is_credential(name):
            return True
    return False


def child_environment(
    environ: Mapping[str, str], output_dir: str, passed: Iterable[str] = ()
) -> ChildEnvironment:
    """The command's environment, built from the agent's ``environ`` (see the module doc)."""
    passed = tuple(passed)
    env: dict[str, str] = {}
    dropped: list[str] = []
    for name, value in environ.items():
        kept = name in KEPT or name.startswith(KEPT_PREFIXES) or _chosen(name, passed)
        if kept and not _agent_only(name):
            env[name] = value
        else:
            dropped.append(name)
    env.setdefault("SECRETS_DIR", output_dir)
    return ChildEnvironment(env, tuple(sorted(dropped)))


class SecretEnvError(Exception):
    """A secret chosen for the environment cannot be read; names the variable, never a value."""


def parse_env_options(options: Iterable[str]) -> tuple[tuple[str, str], ...]:
    """``["DB_PASSWORD=postgres/password", ...]`` -> ``(("DB_PASSWORD", "postgres/password"),
    ...)``; ``ValueError`` names the first bad option (the key must be checked against the
    config by the caller: ``config.exec_table.key_problem``)."""
    pairs = []
    for option in options:
        name, sep, key = option.partition("=")
        problem = env_name_problem(name) if sep else "must be NAME=secret/field"
        if problem is not None:
            raise ValueError(f"{option!r}: {problem}")
        pairs.append((name, key))
    return tuple(pairs)


def secret_values(output_dir: str, chosen: Iterable[tuple[str, str]]) -> dict[str, str]:
    """``{NAME: value}`` read now from ``<output_dir>/<key>`` for each chosen ``(NAME, key)``.

    Raises ``SecretEnvError`` when one cannot be read or cannot be an environment value (it
    holds a NUL byte)."""
    from libs.secrets.errors import SecretManagerError
    from libs.secrets.files import read_secret_file

    values = {}
    for name, key in chosen:
        try:
            value = read_secret_file(output_dir, key, backend="file")
        except SecretManagerError as exc:
            raise SecretEnvError(f"{name}: cannot read secret {key!r}: {exc}") from None
        if "\0" in value:
            raise SecretEnvError(f"{name}: secret {key!r} holds a NUL byte; not an env value")
        values[name] = value
    return values
