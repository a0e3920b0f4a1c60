"""``secrets-agent``: the command line.

Global options go before the subcommand. Exit codes: 0 success, 1 runtime failure, 2 usage or
configuration error (nothing written). ``exec``, ``dev-server`` and ``demo`` live in their own
modules, imported only when that command runs.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence

from secrets_agent import __version__
from secrets_agent.logs import FORMATS, LEVELS, configure_logging

log = logging.getLogger("secrets_agent")

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2

# command -> (module, help)
DELEGATED = {
    "exec": ("secrets_agent.cli.exec", "sync, then run CMD with secrets refreshed around it"),
    "dev-server": ("secrets_agent.devserver.cli", "in-memory Vault-compatible dev server"),
    "demo": ("secrets_agent.demo.run", "the whole pipeline on this machine, no outside service"),
}
_GLOBAL_WITH_VALUE = ("--log-level", "--log-format")


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser (delegated commands get their own parser when they run)."""
    parser = argparse.ArgumentParser(
        prog="secrets-agent",
        description="Keep secrets from Vault or AWS Secrets Manager as files in tmpfs.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--log-level",
        choices=LEVELS,
        default=None,
        help="default: $SECRETS_AGENT_LOG_LEVEL or info",
    )
    parser.add_argument("--log-format", choices=FORMATS, default="text")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="sync, then keep secrets fresh (or sync once)")
    run.add_argument("--config", required=True, metavar="FILE")
    run.add_argument("--once", action="store_true", help="sync once and exit (0 = all written)")
    check = sub.add_parser("check", help="validate the config and confirm every secret is readable")
    check.add_argument("--config", required=True, metavar="FILE")
    status = sub.add_parser("status", help="per-secret freshness, as the running agent reports it")
    status.add_argument("--config", required=True, metavar="FILE")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    for name, (_, text) in DELEGATED.items():
        sub.add_parser(name, help=text, add_help=False)
    return parser


def _split_delegated(argv: Sequence[str]) -> tuple[list[str], list[str] | None]:
    """Split ``argv`` at a delegated command: (globals + command, the command's own args)."""
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in _GLOBAL_WITH_VALUE:
            i += 2
            continue
        if arg.startswith("-"):
            i += 1
            continue
        if arg in DELEGATED:
            return list(argv[: i + 1]), list(argv[i + 1 :])
        break
    return list(argv), None


def harden() -> None:
    """Apply process hardening (no core dumps, no ptrace) when the module is available."""
    try:
        from secrets_agent import hardening
    except ImportError:
        return
    try:
        hardening.harden_process()
    except Exception as exc:  # hardening must never stop the agent
        log.debug("process hardening failed: %s", type(exc).__name__)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``secrets-agent``; returns the exit code."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    head, rest = _split_delegated(args_list)
    parser = build_parser()
    try:
        args = parser.parse_args(head)
    except SystemExit as exc:
        return int(exc.code or 0) if isinstance(exc.code, int) else EXIT_USAGE
    level = args.log_level or os.environ.get("SECRETS_AGENT_LOG_LEVEL", "info").lower()
    if level not in LEVELS:
        print(
            f"secrets-agent: SECRETS_AGENT_LOG_LEVEL must be one of {', '.join(LEVELS)}",
            file=sys.stderr,
        )
        return EXIT_USAGE
    configure_logging(level, args.log_format)
    if rest is not None:
        return _run_delegated(args.command, rest)
    from secrets_agent.cli import commands

    handlers = {"run": commands.run, "check": commands.check, "status": commands.status}
    try:
        return handlers[args.command](args)
    except KeyboardInterrupt:
        return 130


def _run_delegated(command: str, rest: list[str]) -> int:
    module_name, text = DELEGATED[command]
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        print(f"secrets-agent {command}: not available ({exc.name} missing)", file=sys.stderr)
        return EXIT_USAGE
    parser = argparse.ArgumentParser(prog=f"secrets-agent {command}", description=text)
    module.add_arguments(parser)
    try:
        args = parser.parse_args(rest)
    except SystemExit as exc:
        return int(exc.code or 0) if isinstance(exc.code, int) else EXIT_USAGE
    args.command = command
    if command in ("exec",):
        harden()
    return int(module.run(args))
