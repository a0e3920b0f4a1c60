"""Load and validate the agent's TOML config into frozen dataclasses.

Every problem is collected and reported at once, each prefixed with its key path
(``secrets[2].format: must be one of fields, json, env, raw, template``). Messages never repeat a
configured value. Each table has its module: ``[agent]`` in :mod:`.agent`, ``[backend]`` in
:mod:`.backend`, ``[[secrets]]`` in :mod:`.entries`, ``[[templates]]`` in :mod:`.templates`,
``[exec]`` in :mod:`.exec_table`; typed
reads (modes are ``"0400"``-style strings or integers at most ``0777``; ``owner``/``group`` are
names, resolved now, or numbers; durations) in :mod:`.tables`. The dataclasses
(:mod:`.schema`) are re-exported here.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path

from secrets_agent.config.agent import parse_agent
from secrets_agent.config.backend import parse_backend
from secrets_agent.config.entries import TargetIndex, parse_secrets
from secrets_agent.config.exec_table import parse_exec
from secrets_agent.config.schema import (
    DEFAULT_JWT_FILE,
    INLINE_CREDENTIALS,
    AgentSettings,
    AuthConfig,
    AwsBackendConfig,
    Config,
    SecretSpec,
    TemplateSpec,
    VaultBackendConfig,
)
from secrets_agent.config.tables import Problems, Table
from secrets_agent.config.templates import parse_templates

__all__ = [
    "DEFAULT_JWT_FILE",
    "AgentSettings",
    "AuthConfig",
    "AwsBackendConfig",
    "Config",
    "ConfigError",
    "SecretSpec",
    "TemplateSpec",
    "VaultBackendConfig",
    "load_config",
    "parse_config",
]


class ConfigError(Exception):
    """The config is unusable. ``problems`` holds one ``"key.path: what"`` line per problem."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))

    def __str__(self) -> str:
        return "\n".join(self.problems)


def load_config(path: str | Path, *, environ: Mapping[str, str] | None = None) -> Config:
    """Read and parse the TOML file at ``path``; raise ``ConfigError`` listing every problem."""
    source = Path(path)
    try:
        with source.open("rb") as handle:
            data = tomllib.load(handle)
    except OSError as exc:
        raise ConfigError([f"{source}: cannot read: {exc.strerror or exc}"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{source}: invalid TOML: {exc}"]) from None
    return parse_config(data, environ=environ, source=source.absolute())


def parse_config(
    data: Mapping[str, object],
    *,
    environ: Mapping[str, str] | None = None,
    source: Path | None = None,
) -> Config:
    """Validate an already-parsed TOML document; raise ``ConfigError`` listing every problem."""
    env = os.environ if environ is None else environ
    problems = Problems()
    root = Table(data, "", problems)
    agent_data = root.table("agent", required=True)
    backend_data = root.table("backend", required=True)
    secrets_data = root.raw("secrets")
    exec_data = root.table("exec")
    templates_data = root.raw("templates")
    root.finish()

    agent = parse_agent(agent_data, problems) if agent_data is not None else None
    base_dir = source.parent if source is not None else None
    backend = parse_backend(backend_data, problems, env, base_dir) if backend_data else None
    targets = TargetIndex()
    specs = parse_secrets(secrets_data, agent, backend, problems, targets)
    templates = parse_templates(templates_data, specs, agent, problems, targets)
    exec_settings = parse_exec(exec_data, specs, problems)
    if problems.items or agent is None or backend is None:
        raise ConfigError(problems.items or ["config: incomplete"])
    raw_backend = data.get("backend")
    auth = raw_backend.get("auth") if isinstance(raw_backend, Mapping) else None
    return Config(
        agent=agent,
        backend=backend,
        secrets=specs,
        source=source,
        exec=exec_settings,
        templates=templates,
        inline_credential=isinstance(auth, Mapping)
        and any(key in auth for key in INLINE_CREDENTIALS),
    )
