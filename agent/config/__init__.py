"""The agent's TOML config: parsed once, every problem reported at once, into frozen dataclasses.

``load`` is the entry point (``load_config``, ``parse_config``, ``ConfigError``); ``schema`` holds
the dataclasses; ``agent``, ``backend``, ``entries``, ``templates`` and ``exec_table`` parse the
``[agent]``, ``[backend]``, ``[[secrets]]`` (with ``lease_keys`` for leased secrets),
``[[templates]]`` and ``[exec]`` tables; ``tables`` is the typed, problem-collecting reader
they share.

May import ``libs.secrets``, ``secrets_agent.durations``, the writer's name rules
(``secrets_agent.writer.paths``) and the template compiler (``secrets_agent.render.template``);
nothing else of the agent.
"""

from secrets_agent.config.load import ConfigError, load_config
from secrets_agent.config.schema import Config, SecretSpec, TemplateSpec

__all__ = ["Config", "ConfigError", "SecretSpec", "TemplateSpec", "load_config"]
