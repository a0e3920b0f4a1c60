"""The dev server's endpoints, one module per API area: ``system`` (``sys/``), ``auth_methods``
(AppRole and Kubernetes roles and logins), ``token_auth`` (``auth/token/``), ``kv`` (KV v1 and
v2 engines). Each answers an already routed and authorised ``wire.Request`` with a
``wire.Reply``.

May import ``devserver.state``, ``kvstore``, ``tokens`` and ``wire``; only ``router`` imports it.
"""
