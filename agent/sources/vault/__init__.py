"""Vault KV through a lean keep-alive HTTP client for reads and hvac for login and renewal;
leased reads (``leases``: issue, renew, revoke; ``certinfo``: a certificate's validity)."""
