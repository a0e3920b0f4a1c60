"""AWS Secrets Manager through boto3: batched reads and per-secret error translation.

``source`` (``AwsSource``: ``BatchGetSecretValue`` 20 at a time, single reads as a fallback) and
``errors`` (botocore errors and batch error entries -> ``SourceError``, through
``libs.secrets._core.aws_answers``). May import ``sources.base``/``result``, ``config`` and
``libs.secrets``.
"""
