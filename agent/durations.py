"""Durations for the agent's config and tables: the reader's shared rules, re-exported.

The one implementation is ``libs.secrets._core.durations``; this module keeps the agent's
import path (``secrets_agent.durations``) working.
"""

from __future__ import annotations

from libs.secrets._core.durations import format_duration, parse_duration

__all__ = ["format_duration", "parse_duration"]
