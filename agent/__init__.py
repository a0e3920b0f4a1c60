"""secrets-agent: pulls secrets from Vault or AWS Secrets Manager into tmpfs, keeps them fresh."""

__version__ = "0.1.0"
