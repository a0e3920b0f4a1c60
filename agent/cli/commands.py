"""The ``run``, ``check`` and ``status`` commands of ``secrets-agent``."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time

from secrets_agent.config.load import Config, ConfigError, load_config
from secrets_agent.render.errors import RenderError
from secrets_agent.sources.result import SecretData

log = logging.getLogger("secrets_agent")

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


def _load(path: str) -> Config | None:
    try:
        return load_config(path)
    except ConfigError as exc:
        print(f"secrets-agent: invalid config {path}:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return None


def run(args: argparse.Namespace) -> int:
    """``run --config FILE [--once]``."""
    from secrets_agent.cli.main import harden

    harden()
    config = _load(args.config)
    if config is None:
        return EXIT_USAGE
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
        return EXIT_USAGE
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
    return EXIT_OK if report.ok else EXIT_FAILURE


def check(args: argparse.Namespace) -> int:
    """``check --config FILE``: validate, authenticate, read every secret; write nothing."""
    from secrets_agent.cli.main import harden

    harden()
    config = _load(args.config)
    if config is None:
        return EXIT_USAGE
    print(f"config ok: {len(config.secrets)} secret(s), backend {config.backend.type}")
    from secrets_agent.daemon.fetch import fetch_specs
    from secrets_agent.render.formats import render
    from secrets_agent.sources.base import create_source

    try:
        source = create_source(config.backend, concurrency=config.agent.concurrency)
    except Exception as exc:
        print(f"cannot set up the {config.backend.type} client: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    try:
        outcomes = fetch_specs(source, list(config.secrets))
    finally:
        source.close()
    failures = 0
    for spec in config.secrets:
        outcome, _ = outcomes[spec.target]
        problem: str | None
        if isinstance(outcome, SecretData):
            try:
                files = render(spec, outcome)
                problem = None
            except RenderError as exc:
                problem = f"cannot render: {exc}"
        else:
            problem = str(outcome)
        if problem is None:
            version = f" version {outcome.version}" if isinstance(outcome, SecretData) else ""
            print(f"ok    {spec.target} ({spec.path}{version}, {len(files)} file(s))")
        else:
            failures += 1
            print(f"FAIL  {spec.target} ({spec.path}): {problem}")
    return EXIT_OK if failures == 0 else EXIT_FAILURE


def status(args: argparse.Namespace) -> int:
    """``status --config FILE [--json]``: what the agent last reported; never values."""
    config = _load(args.config)
    if config is None:
        return EXIT_USAGE
    from secrets_agent.status import format_status, read_status

    try:
        report = read_status(config.agent.output_dir)
    except FileNotFoundError:
        print(f"no status in {config.agent.output_dir} (has the agent run yet?)", file=sys.stderr)
        return EXIT_FAILURE
    except (OSError, ValueError) as exc:
        print(f"cannot read the status file: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    if args.json:
        print(json.dumps(report, indent=2, sort_keys=True))
    else:
        print(format_status(report, now=time.time()))
    return EXIT_OK
