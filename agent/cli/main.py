"""``secrets-agent``: global options, then one command whose module parses the rest.

``secrets-agent [--log-level L] [--log-format F] COMMAND [its options]``. The top-level parser
knows only the global options and the command names; the command's module (``COMMANDS``) is
imported when it runs and adds its own options (``add_arguments``), so ``--help`` and a mistyped
command never import hvac, boto3 or the daemon. Commands that handle secret values harden the
process (no core dumps, no ptrace) exactly once, here, before they run.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from secrets_agent import __version__
from secrets_agent.cli import exitcodes
from secrets_agent.hardening import harden_process
from secrets_agent.logs import FORMATS, LEVELS, configure_logging


@dataclass(frozen=True)
class Command:
    """A subcommand: the module that implements it, its help line, whether it holds secrets."""

    module: str
    help: str
    hardened: bool


COMMANDS: dict[str, Command] = {
    "run": Command(
        "secrets_agent.cli.run", "sync, then keep secrets fresh (or sync once)", hardened=True
    ),
    "check": Command(
        "secrets_agent.cli.check",
        "validate the config and confirm every secret is readable",
        hardened=True,
    ),
    "status": Command(
        "secrets_agent.cli.status",
        "per-secret freshness, as the running agent reports it",
        hardened=False,
    ),
    "exec": Command(
        "secrets_agent.cli.exec",
        "sync, then run CMD with secrets refreshed around it",
        hardened=True,
    ),
    "dev-server": Command(
        "secrets_agent.devserver.command", "in-memory Vault-compatible dev server", hardened=False
    ),
    "demo": Command(
        "secrets_agent.demo.command",
        "the whole pipeline on this machine, no outside service",
        hardened=False,
    ),
}
_GLOBAL_WITH_VALUE = ("--log-level", "--log-format")


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser: global options and the command names (not their options)."""
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
    for name, command in COMMANDS.items():
        sub.add_parser(name, help=command.help, add_help=False)
    return parser


def split_argv(argv: Sequence[str]) -> tuple[list[str], list[str]]:
    """Split ``argv`` after the command name: (global options + command, the command's args).

    Without a known command everything is in the first part (the parser then says what is
    wrong).
    """
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in _GLOBAL_WITH_VALUE:
            i += 2
            continue
        if arg.startswith("-"):
            i += 1
            continue
        if arg in COMMANDS:
            return list(argv[: i + 1]), list(argv[i + 1 :])
        break
    return list(argv), []


def _parse(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.Namespace | int:
    """Parsed arguments, or the exit code argparse chose (0 after --help, 2 on an error)."""
    try:
        return parser.parse_args(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else exitcodes.USAGE


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``secrets-agent``; returns the exit code."""
    head, rest = split_argv(list(sys.argv[1:] if argv is None else argv))
    parsed = _parse(build_parser(), head)
    if isinstance(parsed, int):
        return parsed
    level = parsed.log_level or os.environ.get("SECRETS_AGENT_LOG_LEVEL", "info").lower()
    if level not in LEVELS:
        print(
            f"secrets-agent: SECRETS_AGENT_LOG_LEVEL must be one of {', '.join(LEVELS)}",
            file=sys.stderr,
        )
        return exitcodes.USAGE
    configure_logging(level, parsed.log_format)
    try:
        return run_command(parsed.command, rest)
    except KeyboardInterrupt:
        return exitcodes.INTERRUPTED


def run_command(name: str, argv: list[str]) -> int:
    """Import command ``name``, parse ``argv`` with its options and run it."""
    command = COMMANDS[name]
    try:
        module = importlib.import_module(command.module)
    except ImportError as exc:
        print(f"secrets-agent {name}: not available ({exc.name} missing)", file=sys.stderr)
        return exitcodes.USAGE
    parser = argparse.ArgumentParser(prog=f"secrets-agent {name}", description=command.help)
    module.add_arguments(parser)
    args = _parse(parser, argv)
    if isinstance(args, int):
        return args
    args.command = name
    if command.hardened:
        harden_process()
    return int(module.run(args))
