"""``secrets-agent status --config FILE [--json]``: what the agent last reported; never
values."""

from __future__ import annotations

import argparse
import json
import sys
import time

from secrets_agent.cli import exitcodes
from secrets_agent.cli.preflight import load_reported


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``--config FILE`` and ``--json``."""
    parser.add_argument("--config", required=True, metavar="FILE")
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def run(args: argparse.Namespace) -> int:
    """Print the status file as a table (or JSON). 0 when the agent reported itself healthy
    (or said nothing about its health); 1 while it reports itself UNHEALTHY, or when there is
    no status to read, so that ``secrets-agent status`` works as a health check."""
    config = load_reported(args.config)
    if config is None:
        return exitcodes.USAGE
    from secrets_agent.status import format_status, read_status

    try:
        report = read_status(config.agent.output_dir)
    except FileNotFoundError:
        print(f"no status in {config.agent.output_dir} (has the agent run yet?)", file=sys.stderr)
        return exitcodes.FAILURE
    except (OSError, ValueError) as exc:
        print(f"cannot read the status file: {exc}", file=sys.stderr)
        return exitcodes.FAILURE
    if args.json:
        print(json.dumps(report, indent=2, sort_keys=True))
    else:
        print(format_status(report, now=time.time()))
    agent = report.get("agent")
    unhealthy = isinstance(agent, dict) and agent.get("healthy") is False
    return exitcodes.FAILURE if unhealthy else exitcodes.OK
