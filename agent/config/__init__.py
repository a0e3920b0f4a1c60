"""The agent's TOML config: parsed once, every problem reported at once, into frozen dataclasses.

May import ``libs.secrets`` (durations, key rules) and nothing else of the agent.
"""

from secrets_agent.config.load import ConfigError, load_config
from secrets_agent.config.schema import Config, SecretSpec

__all__ = ["Config", "ConfigError", "SecretSpec", "load_config"]
