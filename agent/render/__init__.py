"""Turning a fetched secret into the bytes of its files: formats (with the per-secret limits),
the template language, and the variable names ``env`` refuses (``envnames``).

May import ``sources.result`` (the data it renders), ``config`` (the spec) and the writer's
name rules (``writer.paths``); no I/O here.
"""
