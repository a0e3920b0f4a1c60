"""The dev server's endpoints, one module per API area: ``system`` (``sys/``), ``auth_methods``
(auth method roles and logins, Kubernetes), ``approle`` (AppRole roles, secret_ids and login),
``token_auth`` (``auth/token/``), ``token_roles`` (``auth/token/roles/``), ``wrapping``
(response wrapping and ``sys/wrapping/``), ``kv`` (KV v1 and v2 engines). Each answers an
already routed and authorised ``wire.Request`` with a ``wire.Reply``.

May import ``devserver.state``, ``kvstore``, ``tokens`` and ``wire``; ``router`` imports it, and
``server`` uses ``approle`` and ``wrapping`` for ``VaultDevServer.wrapped_secret_id``.
"""
