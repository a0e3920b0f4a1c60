"""The renderer's error: a fetched secret that cannot take its configured format."""

from __future__ import annotations


class RenderError(Exception):
    """A fetched secret cannot be rendered in the configured format (missing field, ...)."""
