"""Vault KV through a lean keep-alive HTTP client for reads and hvac for login and renewal.

``source`` (``VaultSource``) -> ``auth`` (login and token lifetime, over
``libs.secrets._core.vault_login``), ``client`` (the hvac client, built on first use; a token's
lookup without it) and ``kvpool`` (KV reads over ``wire``, one persistent HTTP/1.1 connection
each; ``listing``: a KV v2 directory's versions, to confirm unchanged secrets without
reading them) -> ``errors`` (answers -> ``SourceError``, through
``libs.secrets._core.vault_answers``). May import ``sources.base``/``result``, ``config`` and
``libs.secrets``. Leased reads: ``leases`` (issue, renew, revoke) and ``certinfo`` (a
certificate's validity).
"""
