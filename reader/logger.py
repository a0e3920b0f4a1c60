"""The package's logger, with ``logging`` imported on first use: only slow paths log, and a
service that reads its secrets from files never pays for importing ``logging``.

Messages name keys, paths and backends, never a secret value.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    import logging


def get_logger() -> logging.Logger:
    """The ``libs.secrets`` logger."""
    import logging

    return logging.getLogger("libs.secrets")


__all__ = ["get_logger"]
