"""The ``secrets-agent`` command line: ``main`` parses the global options and hands the rest to
one module per command, imported only when that command runs.

Read top-down: ``main`` (parser, logging, hardening, dispatch) -> ``run``, ``check``, ``status``,
``exec`` (one module per command) -> ``preflight`` (load the config, warn about unsafe files and
plain HTTP) -> ``filechecks`` (who may read or replace a file) -> ``exec_env`` (the environment
``exec`` gives its command) and ``exec_child`` (start the command, relay signals, reap) ->
``exitcodes``. ``dev-server`` and ``demo`` live in their own packages (``devserver.command``,
``demo.command``).

May import every other package of the agent; nothing imports it except ``secrets_agent.__main__``.
"""
