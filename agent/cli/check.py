"""``secrets-agent check --config FILE``: validate, authenticate, read every secret; write
nothing."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence

from secrets_agent.cli import exitcodes
from secrets_agent.cli.preflight import load_checked
from secrets_agent.config.schema import TemplateSpec
from secrets_agent.render.errors import RenderError
from secrets_agent.sources.result import SecretData


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``--config FILE``."""
    parser.add_argument("--config", required=True, metavar="FILE")


def run(args: argparse.Namespace) -> int:
    """0 if every secret is readable and renders, 1 if one is not, 2 for an invalid config."""
    config = load_checked(args.config, echo=True)
    if config is None:
        return exitcodes.USAGE
    print(f"config ok: {len(config.secrets)} secret(s), backend {config.backend.type}")
    from secrets_agent.daemon.fetch import fetch_specs
    from secrets_agent.render.formats import render
    from secrets_agent.sources.base import create_source

    try:
        source = create_source(config.backend, concurrency=config.agent.concurrency)
    except Exception as exc:
        print(f"cannot set up the {config.backend.type} client: {exc}", file=sys.stderr)
        return exitcodes.FAILURE
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
    failures += _check_templates(config.templates, outcomes)
    return exitcodes.OK if failures == 0 else exitcodes.FAILURE


def _check_templates(
    templates: Sequence[TemplateSpec], outcomes: Mapping[str, tuple[object, object]]
) -> int:
    """Render every ``[[templates]]`` output from the fetched secrets; the number that fail."""
    from secrets_agent.render.multi import render_output

    failures = 0
    for spec in templates:
        sources: dict[str, Mapping[str, object] | None] = {}
        problem: str | None = None
        for name, secret in spec.sources:
            outcome = outcomes[secret][0]
            if not isinstance(outcome, SecretData):
                problem = f"source {name!r} ({secret}) cannot be read"
                break
            sources[name] = outcome.fields
        if problem is None:
            try:
                size = len(render_output(spec, sources))
            except RenderError as exc:
                problem = f"cannot render: {exc}"
        if problem is None:
            print(f"ok    {spec.target} (template, {size} bytes)")
        else:
            failures += 1
            print(f"FAIL  {spec.target} (template): {problem}")
    return failures
