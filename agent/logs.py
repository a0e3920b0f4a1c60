"""Logging set-up for the agent: text or JSON lines on stderr (journald captures stderr).

The agent never passes a secret value to a log call. Third-party loggers that would print
request or response bodies at DEBUG (botocore prints whole ``GetSecretValue`` responses) are held
at WARNING whatever level the agent runs at.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import TextIO

LEVELS = ("debug", "info", "warning", "error")
FORMATS = ("text", "json")

# Libraries whose DEBUG output can contain response bodies, headers or tokens.
_QUIET_LOGGERS = (
    "botocore",
    "boto3",
    "s3transfer",
    "urllib3",
    "requests",
    "hvac",
    "apscheduler",
    "werkzeug",
)

_STANDARD_ATTRS = frozenset(
    logging.LogRecord("", 0, "", 0, "", None, None).__dict__.keys() | {"message", "asctime"}
)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, message, plus any ``extra=`` fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                entry[key] = value if isinstance(value, str | int | float | bool) else str(value)
        if record.exc_info and record.exc_info[0] is not None:
            entry["error_type"] = record.exc_info[0].__name__
        return json.dumps(entry, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """``2025-01-01T00:00:00Z info secrets_agent.x: message`` lines."""

    def format(self, record: logging.LogRecord) -> str:
        ts = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(record.created))
        line = f"{ts} {record.levelname.lower()} {record.name}: {record.getMessage()}"
        if record.exc_info and record.exc_info[0] is not None:
            # The exception type only: tracebacks of vendor errors can carry response bodies.
            line += f" [{record.exc_info[0].__name__}]"
        return line


def configure_logging(
    level: str = "info", fmt: str = "text", *, stream: TextIO | None = None
) -> None:
    """Send the agent's logs to ``stream`` (default stderr) at ``level`` in ``fmt``.

    Raises ValueError for an unknown level or format.
    """
    if level not in LEVELS:
        raise ValueError(f"unknown log level {level!r} (valid: {', '.join(LEVELS)})")
    if fmt not in FORMATS:
        raise ValueError(f"unknown log format {fmt!r} (valid: {', '.join(FORMATS)})")
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(getattr(logging, level.upper()))
    for name in _QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    logging.captureWarnings(True)
