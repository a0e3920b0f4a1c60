"""A Vault-API-compatible in-memory development server (tests, demo, benchmarks)."""

from secrets_agent.devserver.vault import VaultDevServer

__all__ = ["VaultDevServer"]
