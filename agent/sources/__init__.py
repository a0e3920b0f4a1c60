"""Backends the agent reads from: Vault (hvac) and AWS Secrets Manager (boto3).

Importing this package imports neither SDK; ``create_source`` loads the one a config names.
"""

from secrets_agent.sources.base import SecretSource, create_source

__all__ = ["SecretSource", "create_source"]
