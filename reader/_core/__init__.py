"""libs.secrets._core: the rules the reader and the agent share, in one place.

Holds: the classification of a server's answer into not found / denied / unavailable / invalid
(``failures``), Vault's and AWS's answers fed to it (``vault_answers``, ``aws_answers``),
durations (``durations``), credential files (``credentials``), the key and path segment rules
(``paths``), the text of nested secret values (``values``) and Vault login and token renewal
(``vault_login``).

May import: the standard library only. No hvac, boto3, requests or botocore type is imported
here; the backends and the agent's sources turn those vendors' exceptions into the plain facts
(HTTP status, error strings, error codes) these modules classify. Importing this package loads
nothing but this docstring, so the reader stays light.
"""
