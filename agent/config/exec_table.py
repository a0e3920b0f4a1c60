"""The ``[exec]`` table: what ``secrets-agent exec`` puts into its command's environment.

::

    [exec]
    env = { DB_PASSWORD = "postgres/password", API_KEY = "alpaca/api_key" }
    restart_on_change = true      # restart the command when one of those values changes
    stop_signal = "TERM"          # how it is asked to stop (then SIGKILL after stop_timeout)
    stop_timeout = "10s"

* ``env`` maps variable names (``[A-Za-z_][A-Za-z0-9_]*``) to keys as the reader names them
  (``<target>/<field>`` for ``format = "fields"``, ``<target>`` for a one-file format); each key
  must name a file one of the ``[[secrets]]`` writes. The agent's own variables
  (``NOTIFY_SOCKET``, ``WATCHDOG_*``, ``SECRETS_AGENT_*``) cannot be set.
* ``stop_signal``: a name (``"TERM"``, ``"SIGINT"``) or a number (:func:`parse_signal`, the one
  rule the command line uses too).
"""

from __future__ import annotations

import re
import signal
from collections.abc import Mapping

from secrets_agent.config.schema import ExecSettings, SecretSpec
from secrets_agent.config.tables import Problems, Table, type_name
from secrets_agent.writer.paths import relpath_problem

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
RESERVED_NAMES = frozenset({"NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"})
RESERVED_PREFIXES = ("SECRETS_AGENT_",)


def parse_signal(name: str) -> int:
    """``"HUP"``, ``"SIGHUP"`` or ``"1"`` -> 1; raises ``ValueError`` naming the bad input."""
    text = name.strip().upper()
    if text.isdigit():
        number = int(text)
        if 0 < number < signal.NSIG:
            return number
        raise ValueError(f"unknown signal {name!r}")
    if not text.startswith("SIG"):
        text = "SIG" + text
    try:
        return int(signal.Signals[text])
    except KeyError:
        raise ValueError(f"unknown signal {name!r}") from None


def env_name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a variable ``exec`` sets from a secret, or ``None``."""
    if not _ENV_NAME.fullmatch(name):
        return "is not a variable name (letters, digits and _, not starting with a digit)"
    if name in RESERVED_NAMES or name.startswith(RESERVED_PREFIXES):
        return "belongs to the agent's own process"
    return None


def key_problem(key: str, specs: tuple[SecretSpec, ...]) -> str | None:
    """Why ``key`` does not name a file the configured secrets write, or ``None``."""
    problem = relpath_problem(key)
    if problem is not None:
        return f"is not a valid secret key: {problem}"
    for spec in specs:
        if key == spec.target and spec.format not in ("fields", "none"):
            return None
        parent, _, field = key.rpartition("/")
        if spec.format == "fields" and parent == spec.target and field:
            return None
    return "names no file of a [[secrets]] target (<target>/<field>, or <target>)"


def parse_exec(
    data: Mapping[str, object] | None, specs: tuple[SecretSpec, ...], problems: Problems
) -> ExecSettings:
    """The ``[exec]`` table (defaults when absent); problems are added to ``problems``."""
    if data is None:
        return ExecSettings()
    table = Table(data, "exec", problems)
    env: list[tuple[str, str]] = []
    raw_env = table.raw("env")
    if raw_env is not None and not isinstance(raw_env, Mapping):
        table.problem("env", f'must be a table of NAME = "secret/field", not {type_name(raw_env)}')
    elif raw_env is not None:
        for name, key in raw_env.items():
            where = f"env.{name}"
            if not isinstance(key, str):
                table.problem(where, f"must be a secret key string, not {type_name(key)}")
                continue
            problem = env_name_problem(name) or key_problem(key, specs)
            if problem is not None:
                table.problem(where, problem)
                continue
            env.append((name, key))
    restart = table.boolean("restart_on_change", False)
    stop_signal = int(signal.SIGTERM)
    raw_signal = table.raw("stop_signal")
    if raw_signal is not None:
        try:
            stop_signal = parse_signal(str(raw_signal))
        except ValueError as exc:
            table.problem("stop_signal", str(exc))
    timeout = table.duration("stop_timeout", 10.0)
    table.finish()
    return ExecSettings(
        env=tuple(env),
        restart_on_change=restart,
        stop_signal=stop_signal,
        stop_timeout=timeout if timeout is not None else 10.0,
    )
