"""The ``secrets-agent`` command line: the parser in ``main``, one module per command.

May import every other package of the agent; nothing else imports it except ``__main__``.
"""
