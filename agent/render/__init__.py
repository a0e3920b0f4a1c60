"""Turning fetched secrets into the bytes of their files: formats (with the per-secret limits),
the template language, the outputs of ``[[templates]]`` over several secrets (``multi``), and
the variable names ``env`` refuses (``envnames``).

May import ``sources.result`` (the data it renders), ``config`` (the spec) and the writer's
name rules (``writer.paths``); no I/O here.
"""
