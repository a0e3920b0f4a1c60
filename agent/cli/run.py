"""``secrets-agent run --config FILE [--once]``: the daemon, or one sync for init containers."""

from __future__ import annotations

import argparse
import logging

from secrets_agent.cli import exitcodes
from secrets_agent.cli.preflight import load_checked

log = logging.getLogger("secrets_agent")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``--config FILE`` and ``--once``."""
    parser.add_argument("--config", required=True, metavar="FILE")
    parser.add_argument("--once", action="store_true", help="sync once and exit (0 = all written)")


def run(args: argparse.Namespace) -> int:
    """Run the daemon until SIGTERM (exit 0), or sync once: 0 if every secret was written."""
    config = load_checked(args.config)
    if config is None:
        return exitcodes.USAGE
    from secrets_agent.daemon.agent import Agent
    from secrets_agent.writer.writer import OutputDirError

    log.info(
        "secrets-agent starting: %d secret(s) from %s into %s",
        len(config.secrets),
        config.backend.type,
        config.agent.output_dir,
    )
    agent = Agent(config)
    if not args.once:
        return agent.run_forever()
    try:
        report = agent.sync_once()
    except OutputDirError as exc:
        log.error("output directory unusable: %s", exc)
        return exitcodes.USAGE
    finally:
        agent.stop()
    for target, error in sorted(report.failed.items()):
        log.error("not written: %s: %s", target, error)
    log.info(
        "sync done: %d written, %d unchanged, %d failed",
        report.written,
        report.unchanged,
        len(report.failed),
    )
    return exitcodes.OK if report.ok else exitcodes.FAILURE
