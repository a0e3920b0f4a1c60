"""``secrets-agent exec --config FILE -- CMD [ARGS...]``: the container entrypoint.

1. Validate the command line and the config; find CMD.
2. Sync every secret once. If any secret could not be written, exit 1 without starting CMD.
3. Start refreshing in the background (the agent's scheduler threads).
4. Start CMD as a child (no shell) with the agent's stdin/stdout/stderr and a scrubbed
   environment (``exec_env``): a documented allow-list plus ``--pass-env NAME``, never the
   agent's login (``VAULT_*``, AWS keys, ``CREDENTIALS_DIRECTORY``) unless named exactly, and
   ``SECRETS_DIR`` = the output directory unless already set; plus exactly the secrets chosen
   with ``--env NAME=secret/field`` and ``[exec] env``, read from the agent's files (a secret
   that cannot be read: exit 1 without starting CMD).
5. Forward SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 to it; reap orphaned zombies
   when running as PID 1. Once a refresh (or a reload) has changed a secret's files and every
   file of that secret is in place, the agent's change listener (``Agent.add_change_listener``)
   wakes the main loop (``exec_supervise``); changes that arrive together (one refresh cycle or
   batch) are handled once: with ``--restart-on-change``, a command whose environment would
   now differ is stopped (``--stop-signal``, SIGKILL after ``--stop-timeout``) and started
   again with the new values; otherwise ``--signal-on-change SIG`` sends SIG to it.
6. Stop refreshing and exit with CMD's exit code (128+N if signal N killed it).

Exit codes of the agent itself (``exitcodes``): 2 usage or config error (no command, unknown
signal name, bad ``--pass-env`` name or ``--env`` option, invalid or refused config), 1 the first
sync failed, a secret for the environment could not be read, or the agent could not start, 126
CMD is not executable, 127 CMD was not found, 128+N a terminating signal N arrived before CMD
started.
Each failure prints one line to stderr; no secret value is ever printed.

The process is hardened once, by ``main``, before this module runs; the child inherits
``RLIMIT_CORE`` = 0 from it (it holds the same secrets).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from secrets_agent.cli import exitcodes
from secrets_agent.cli.exec_child import (
    TERMINATING_SIGNALS,
    LaunchError,
    SignalRelay,
    resolve_command,
    start_child,
)
from secrets_agent.cli.exec_env import (
    PASS_ENV_VARIABLE,
    SecretEnvError,
    child_environment,
    parse_env_options,
    parse_pass_env,
    secret_values,
)
from secrets_agent.cli.exec_supervise import Restart, supervise
from secrets_agent.cli.preflight import load_checked
from secrets_agent.config.exec_table import key_problem, parse_signal

if TYPE_CHECKING:
    from secrets_agent.config.load import Config
    from secrets_agent.daemon.agent import Agent, SyncReport

__all__ = ["add_arguments", "parse_signal", "run"]

log = logging.getLogger(__name__)

STOP_TIMEOUT = 10.0  # in-flight writes get this long to finish after the child exited
SIGNAL_ON_CHANGE_ENV = "SECRETS_AGENT_SIGNAL_ON_CHANGE"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``exec`` options: ``--config``, ``--signal-on-change``, ``--env``,
    ``--restart-on-change``, ``--stop-signal``, ``--stop-timeout``, ``--pass-env`` and the
    command."""
    parser.add_argument("--config", required=True, metavar="FILE", help="agent config (TOML)")
    parser.add_argument(
        "--signal-on-change",
        metavar="SIG",
        default=None,
        help="signal sent to CMD after a refresh changed secret files, e.g. HUP or SIGUSR1"
        f" (default: ${SIGNAL_ON_CHANGE_ENV}, else none)",
    )
    parser.add_argument(
        "--env",
        metavar="NAME=KEY",
        action="append",
        default=[],
        help="put secret KEY (as the reader names it: secret/field) into CMD's environment as"
        " NAME; repeatable, added to [exec] env",
    )
    parser.add_argument(
        "--restart-on-change",
        action="store_true",
        default=None,
        help="restart CMD when a secret in its environment changed (stop it with the stop"
        " signal, wait, start it again with the new values); default: [exec] restart_on_change",
    )
    parser.add_argument(
        "--stop-signal",
        metavar="SIG",
        default=None,
        help="signal that stops CMD for a restart (default: [exec] stop_signal, else TERM)",
    )
    parser.add_argument(
        "--stop-timeout",
        metavar="SECONDS",
        type=float,
        default=None,
        help="SIGKILL CMD if it has not stopped this long after the stop signal"
        " (default: [exec] stop_timeout, else 10)",
    )
    parser.add_argument(
        "--pass-env",
        metavar="NAME",
        action="append",
        default=[],
        help="also pass variable NAME (or the family NAME*) to CMD; repeatable"
        f" (also ${PASS_ENV_VARIABLE}). Credentials pass only when named exactly",
    )
    # dest is not "command": the CLI stores the subcommand's name there.
    parser.add_argument(
        "child_argv", nargs=argparse.REMAINDER, metavar="-- CMD [ARGS...]", help="command to run"
    )


def run(args: argparse.Namespace) -> int:
    """Run ``exec``; returns the exit code (see the module docstring)."""
    command = list(args.child_argv or [])
    if command[:1] == ["--"]:
        command = command[1:]
    if not command:
        error("no command given (usage: secrets-agent exec --config FILE -- CMD [ARGS...])")
        return exitcodes.USAGE
    spec = args.signal_on_change or os.environ.get(SIGNAL_ON_CHANGE_ENV) or None
    try:
        change_signal = parse_signal(spec) if spec else None
    except ValueError as exc:
        error(f"--signal-on-change: {exc}")
        return exitcodes.USAGE
    try:
        passed = parse_pass_env(args.pass_env, os.environ.get(PASS_ENV_VARIABLE))
    except ValueError as exc:
        error(f"--pass-env: {exc}")
        return exitcodes.USAGE
    try:
        resolve_command(command[0], os.environ.get("PATH"))
    except LaunchError as exc:
        error(str(exc))
        return exc.exit_code
    config = load_checked(args.config, error=error)
    if config is None:
        return exitcodes.USAGE
    try:
        plan = _plan(args, config)
    except ValueError as exc:
        error(str(exc))
        return exitcodes.USAGE
    with SignalRelay() as relay:
        return _run_with_agent(config, command, relay, change_signal, passed, plan)


@dataclass(frozen=True)
class _Plan:
    """The secrets for the command's environment and how it is restarted (config + options)."""

    env: tuple[tuple[str, str], ...]
    restart: bool
    stop_signal: int
    stop_timeout: float


def _plan(args: argparse.Namespace, config: Config) -> _Plan:
    """``[exec]`` with the command line's ``--env``/``--restart-on-change``/``--stop-*`` on top;
    ``ValueError`` names the bad option."""
    settings = config.exec
    try:
        options = parse_env_options(args.env)
    except ValueError as exc:
        raise ValueError(f"--env {exc}") from None
    for name, key in options:
        problem = key_problem(key, config.secrets)
        if problem is not None:
            raise ValueError(f"--env {name}: {key!r} {problem}")
    env = dict(settings.env)
    env.update(options)
    try:
        stop_signal = parse_signal(args.stop_signal) if args.stop_signal else settings.stop_signal
    except ValueError as exc:
        raise ValueError(f"--stop-signal: {exc}") from None
    timeout = settings.stop_timeout if args.stop_timeout is None else args.stop_timeout
    if not timeout > 0:
        raise ValueError("--stop-timeout: must be greater than zero")
    restart = settings.restart_on_change if args.restart_on_change is None else True
    return _Plan(tuple(env.items()), restart, stop_signal, timeout)


def error(message: str) -> None:
    """Print one line of ``secrets-agent exec``'s own errors on stderr."""
    print(f"secrets-agent exec: {message}", file=sys.stderr, flush=True)


def _run_with_agent(
    config: Config,
    command: list[str],
    relay: SignalRelay,
    change_signal: int | None,
    passed: tuple[str, ...],
    plan: _Plan,
) -> int:
    from secrets_agent.daemon.agent import Agent
    from secrets_agent.memory import tune_allocator

    tune_allocator()  # mallopt is this process's own: the command started later is unaffected
    try:
        agent = Agent(config)
    except Exception as exc:  # output dir unusable, backend library missing, ...
        error(f"cannot start the agent: {exc}")
        return exitcodes.FAILURE
    try:
        outcome = _first_sync(agent, relay)
        if isinstance(outcome, Exception):
            error(f"the first sync failed; not starting the command: {outcome}")
            return exitcodes.FAILURE
        if isinstance(outcome, int):
            error(f"received {signal.Signals(outcome).name} during the first sync; not starting")
            return exitcodes.killed_by(outcome)
        if not outcome.ok:
            error(_sync_failure(outcome))
            return exitcodes.FAILURE
        agent.start()
        output_dir = str(config.agent.output_dir)
        child_env = child_environment(os.environ, output_dir, passed)
        if child_env.dropped:
            log.info(
                "not passed to the command: %s (pass one with --pass-env NAME)",
                ", ".join(child_env.dropped),
            )

        def environment() -> dict[str, str]:
            return {**child_env.env, **secret_values(output_dir, plan.env)}

        if change_signal is not None or plan.restart:
            # Before the child starts: a refresh that ends while it starts must not be missed
            # (one that ended before it started is already in the files it reads).
            agent.add_change_listener(_waker(relay))
        try:
            env = environment()
        except SecretEnvError as exc:
            error(f"not starting the command: {exc}")
            return exitcodes.FAILURE
        try:
            child = start_child(command, env)
        except LaunchError as exc:
            error(str(exc))
            return exc.exit_code
        restart = None
        if plan.restart:
            restart = Restart(
                environment=environment,
                start=lambda new_env: start_child(command, new_env),
                stop_signal=plan.stop_signal,
                stop_timeout=plan.stop_timeout,
            )
        return supervise(child, relay, change_signal=change_signal, restart=restart, env=env)
    finally:
        _stop(agent)


def _stop(agent: Agent, timeout: float = STOP_TIMEOUT) -> None:
    """``agent.stop()``, bounded: the child's exit code must never wait on the scheduler."""
    stopper = threading.Thread(target=agent.stop, args=(timeout,), name="exec-stop", daemon=True)
    stopper.start()
    stopper.join(timeout + 2)
    if stopper.is_alive():
        log.warning("background refreshing did not stop within %.0f s; exiting anyway", timeout)


def _first_sync(agent: Agent, relay: SignalRelay) -> SyncReport | Exception | int:
    """The report of ``agent.sync_once()`` (or what it raised), or the number of a terminating
    signal received meanwhile."""
    result: list[SyncReport | Exception] = []
    done = threading.Event()

    def sync() -> None:
        try:
            result.append(agent.sync_once())
        except Exception as exc:  # the output directory is unusable, ...
            result.append(exc)
        finally:
            done.set()
            relay.notify_change()  # wake the waiting main thread

    thread = threading.Thread(target=sync, name="exec-first-sync", daemon=True)
    thread.start()
    while not done.is_set():
        for sig in relay.wait(1.0):
            if sig in TERMINATING_SIGNALS:
                return sig
    thread.join()  # its wake-up byte is written now; drain it so it is not taken for a change
    for sig in relay.wait(0.0):
        if sig in TERMINATING_SIGNALS:
            return sig
    return result[0]


def _sync_failure(report: SyncReport) -> str:
    failed = sorted(report.failed.items())
    if not failed:
        return "the first sync failed; not starting the command"
    first_target, first_error = failed[0]
    more = f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""
    return (
        f"the first sync failed for {len(failed)} secret(s); not starting the command:"
        f" {first_target}: {first_error}{more}"
    )


def _waker(relay: SignalRelay) -> Callable[[str], None]:
    """A change listener that wakes the main loop (which signals or restarts the child); never
    blocks."""

    def changed(target: str) -> None:
        log.debug("%s changed; waking the command's supervisor", target)
        relay.notify_change()

    return changed
