"""Turning a fetched secret into the bytes of its files: formats and the template language.

May import ``sources.result`` (the data it renders) and ``config`` (the spec); no I/O here.
"""
