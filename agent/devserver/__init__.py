"""A Vault-API-compatible in-memory development server (tests, demo, benchmarks, faults).

Read top-down: ``server`` (``VaultDevServer``: start, stop, seed and drive it from Python) ->
``httpd`` (HTTP/1.1 on loopback) -> ``router`` (seal, faults, token and policy checks) ->
``handlers/`` (``system``, ``auth_methods``, ``approle``, ``token_auth``, ``token_roles``,
``wrapping``, ``kv``: one module per API area) -> the state they share: ``state`` (mounts, auth
roles, seal, wrapped answers, under one lock), ``kvstore`` (KV v1/v2 engines), ``tokens`` (token
store), ``policy`` (which paths a token may use). Beside them: ``listen`` (loopback and TLS
rules), ``flavor`` (whose words it answers in: current HashiCorp Vault or OpenBao), ``wire``
(request, reply and error shapes), ``faults`` (injected failures), ``seed`` (JSON seed files)
and ``command`` (``secrets-agent dev-server``).

Imports only the standard library and its own modules; the agent's other packages never import
it (tests, the demo and the CLI's ``dev-server`` command do).
"""

from secrets_agent.devserver.server import VaultDevServer

__all__ = ["VaultDevServer"]
