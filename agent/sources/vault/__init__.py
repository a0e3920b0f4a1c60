"""Vault KV through a lean keep-alive HTTP client for reads and hvac for login and renewal."""
