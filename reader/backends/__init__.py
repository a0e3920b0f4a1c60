"""The reader's backends, one module each: ``env``, ``file``, ``vault`` (+ ``vault_auth``,
``vault_errors``), ``aws`` (+ ``aws_errors``): thin adapters that read one key and translate the
vendor's answer through ``libs.secrets._core``. May import the reader's own modules; hvac and
boto3 only inside the backend that needs them, on first use.
"""
