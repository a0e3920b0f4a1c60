"""``secrets-agent demo``: the whole pipeline on this machine, with no outside service.

Dev server -> agent -> files on tmpfs -> ``libs.secrets`` reader -> a rotation the reader sees,
with the measured propagation time -> an outage the files and the reader survive. Everything it
creates is removed at the end (``--keep`` leaves the secret files). Values are always masked.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from secrets_agent.demo.output import MASK_PREFIX, Printer, tree_lines
from secrets_agent.demo.steps import DemoRun
from secrets_agent.demo.workspace import (
    DemoError,
    Workspace,
    config_text,
    create_workspace,
    write_private,
)

QUIET_LOGGERS = ("secrets_agent", "libs.secrets", "apscheduler", "watchdog")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the demo's options on its sub-command parser."""
    parser.add_argument(
        "--dir",
        type=Path,
        default=None,
        help="directory to create for the demo; its parent must exist and be on tmpfs or "
        "ramfs (default: a fresh directory under /dev/shm)",
    )
    parser.add_argument(
        "--keep",
        action="store_true",
        help="leave the secret files in place at the end (the config and token are removed)",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=0,
        help="port of the dev server on 127.0.0.1 (default: any free port)",
    )
    parser.add_argument(
        "--interval",
        type=float,
        default=1.0,
        help="the agent's refresh interval in seconds during the demo (default: 1)",
    )
    parser.add_argument(
        "--show-logs",
        action="store_true",
        help="let the agent's and reader's log lines through (hidden by default)",
    )


@contextlib.contextmanager
def _quiet_logs(enabled: bool) -> Iterator[None]:
    """Hide the components' log lines for the demo's duration, then restore the levels."""
    if not enabled:
        yield
        return
    saved = {name: logging.getLogger(name).level for name in QUIET_LOGGERS}
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)


def _check_arguments(args: argparse.Namespace) -> None:
    if not 0 <= args.port <= 65535:
        raise DemoError(f"--port {args.port}: must be 0 (any free port) to 65535", exit_code=2)
    if not 0.2 <= args.interval <= 60:
        raise DemoError("--interval: give 0.2 to 60 seconds", exit_code=2)


@contextlib.contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """Turn SIGTERM into KeyboardInterrupt (main thread only), so a killed demo cleans up."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run(args: argparse.Namespace, out: Printer | None = None) -> int:
    """Run the demo; return 0 on success, 1 on a failure, 2 on bad options or environment."""
    printer = out if out is not None else Printer()
    threads_before = set(threading.enumerate())
    try:
        _check_arguments(args)
        with _quiet_logs(not args.show_logs), _sigterm_interrupts():
            _run(args, printer)
    except DemoError as exc:
        print(f"secrets-agent demo: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("secrets-agent demo: interrupted; everything was cleaned up", file=sys.stderr)
        return 130
    except Exception as exc:  # the components' messages never hold secret values
        print(
            f"secrets-agent demo: failed: {type(exc).__name__}: {exc}\n"
            "Everything was cleaned up. Run again with --show-logs for the components' logs.",
            file=sys.stderr,
        )
        return 1
    leftover = _leftover_threads(threads_before)
    if leftover:
        printer.line(f"   note: threads still running: {', '.join(sorted(leftover))}")
    return 0


def _leftover_threads(before: set[threading.Thread], wait: float = 2.0) -> list[str]:
    """Names of threads started during the demo that are still alive after ``wait`` seconds."""
    deadline = time.monotonic() + wait
    while True:
        alive = [t for t in threading.enumerate() if t not in before and t.is_alive()]
        if not alive or time.monotonic() > deadline:
            return [t.name for t in alive]
        time.sleep(0.05)


def _run(args: argparse.Namespace, out: Printer) -> None:
    workspace = create_workspace(args.dir)
    out.line("secrets-agent demo: Vault -> agent -> files in memory -> your service.")
    out.line(
        f"Values are never shown: at most their first {MASK_PREFIX} characters and their length."
    )
    with contextlib.ExitStack() as stack:
        stack.callback(_cleanup, workspace, args.keep, out)
        demo = DemoRun(workspace, out, interval=args.interval)
        stack.callback(demo.close)
        demo.start_server(args.port)
        demo.seed()
        text = config_text(workspace, demo.vault_url, f"{args.interval:g}s", demo.specs())
        write_private(workspace.token_path, demo.root_token)
        write_private(workspace.config_path, text)
        out.step(
            "Agent config",
            f"Written to {workspace.config_path}. The token is in a separate 0600 file;",
            "the config itself holds no secret.",
        )
        for line in text.splitlines():
            out.line(f"   | {line}")
        demo.first_sync()
        out.line("   Files written by the agent (mode, owner:group, size, masked value):")
        for line in tree_lines(workspace.output_dir):
            out.line(line)
        demo.read_with_library()
        demo.rotate()
        demo.outage()
        out.step("Clean up")


def _cleanup(workspace: Workspace, keep: bool, out: Printer) -> None:
    if keep:
        workspace.remove_all_but_secrets()
        out.item(f"kept {workspace.output_dir} (remove it with: rm -rf {workspace.root})")
    else:
        workspace.remove()
        out.item(f"removed {workspace.root}")


__all__ = ["DemoError", "add_arguments", "run"]
