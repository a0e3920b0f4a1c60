"""Backends the agent reads from: Vault (hvac) and AWS Secrets Manager (boto3).

``base`` is the protocol every source follows (``fetch_many``, ``batch_size``, ``maintain``,
``close``) and ``create_source``; ``result`` holds what a fetch returns (``SecretData`` or a
``SourceError``); ``vault/`` and ``aws/`` are the two backends. Importing this package imports
neither SDK; ``create_source`` loads the one a config names.

May import ``libs.secrets`` (its ``_core`` classifies server answers) and ``config``; nothing
else of the agent.
"""

from secrets_agent.sources.base import SecretSource, create_source

__all__ = ["SecretSource", "create_source"]
