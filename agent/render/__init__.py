"""Turning a fetched secret into the bytes of its files: formats and the template language.

May import ``sources.result`` (the data it renders), ``config`` (the spec) and the writer's
name rules (``writer.paths``); no I/O here.
"""
