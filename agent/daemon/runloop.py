"""The main loop of ``secrets-agent run``: signals, systemd notifications, reloads.

Signal handlers only set events; this loop does the work on the main thread: ``WATCHDOG=1`` at
half of ``WATCHDOG_USEC`` while the scheduler is alive, SIGHUP -> ``RELOADING=1``, reload the
config file (a bad file keeps the current config in force), ``READY=1``; SIGTERM/SIGINT ->
``STOPPING=1``, wait for in-flight writes, exit 0. After the first sync and after each reload
the heap's free pages go back to the kernel, and glibc's mmap threshold is kept fixed
(``secrets_agent.memory``).
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import TYPE_CHECKING

from secrets_agent.memory import release_free_memory, tune_allocator

if TYPE_CHECKING:
    from secrets_agent.daemon.agent import Agent

log = logging.getLogger(__name__)

TICK = 0.5  # how often the loop looks at its events when no watchdog is configured


@contextmanager
def _signal_handlers(agent: Agent) -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        log.debug("not on the main thread: signal handlers not installed")
        yield
        return

    def on_stop(signum: int, frame: FrameType | None) -> None:
        agent.stop_requested.set()

    def on_reload(signum: int, frame: FrameType | None) -> None:
        agent.reload_requested.set()

    previous = {
        signal.SIGTERM: signal.signal(signal.SIGTERM, on_stop),
        signal.SIGINT: signal.signal(signal.SIGINT, on_stop),
        signal.SIGHUP: signal.signal(signal.SIGHUP, on_reload),
    }
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def reload_from_file(agent: Agent) -> bool:
    """Re-read the config file and apply it; on any problem keep the current config."""
    from secrets_agent.config.load import ConfigError, load_config

    agent.notifier.reloading()
    source = agent.config.source
    try:
        if source is None:
            log.error("reload requested but the config was not loaded from a file")
            return False
        try:
            new = load_config(source)
        except ConfigError as exc:
            log.error("reload failed, keeping the current config:\n%s", exc)
            agent.reload_failed(exc.problems)
            return False
        agent.reload(new)
        release_free_memory()
        return True
    finally:
        agent.notifier.ready()


def run_forever(agent: Agent) -> int:
    """Run ``agent`` until SIGTERM/SIGINT. Returns the process exit code."""
    from secrets_agent.writer.writer import OutputDirError

    tune_allocator()
    with _signal_handlers(agent):
        try:
            report = agent.sync_once()
        except OutputDirError as exc:
            log.error("output directory unusable: %s", exc)
            return 2
        if report.ok:
            log.info(
                "first sync complete: %d written, %d unchanged", report.written, report.unchanged
            )
        else:
            log.warning(
                "first sync incomplete (%d failed); retrying in the background", len(report.failed)
            )
        agent.announce_ready()  # READY=1 now if every secret is in place, else once they are
        release_free_memory()  # what parsing the config and the first sync left behind
        agent.start()
        watchdog = agent.notifier.watchdog_interval()
        next_ping = time.monotonic()
        while not agent.stop_requested.is_set():
            if agent.reload_requested.is_set():
                agent.reload_requested.clear()
                reload_from_file(agent)
            if watchdog is not None and time.monotonic() >= next_ping:
                if agent.scheduler_alive():
                    agent.notifier.watchdog()
                next_ping = time.monotonic() + watchdog
            wait = TICK if watchdog is None else max(0.05, min(TICK, next_ping - time.monotonic()))
            agent.stop_requested.wait(wait)
        log.info("stopping")
        agent.notifier.stopping()
        agent.stop()
    return 0
