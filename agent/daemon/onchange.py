"""Run a secret's ``on_change`` command after its files changed.

The command runs without a shell, in its own process group, with a timeout (the whole group is
killed when it expires), stdin closed, and an environment reduced to an allow-list: nothing the
agent holds (Vault or AWS credentials, ``NOTIFY_SOCKET``, ``CREDENTIALS_DIRECTORY``) is passed on.
Its output is logged at DEBUG with the secret's values masked.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from secrets_agent.hardening import CHILD_ENVIRONMENT, CHILD_ENVIRONMENT_PREFIXES

log = logging.getLogger(__name__)

_DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_MIN_MASKED_LEN = 4  # shorter values could not be masked without hiding all of the output
_MAX_LOGGED_CHARS = 2000


@dataclass(frozen=True)
class CommandResult:
    """What happened to one ``on_change`` run (no output is kept)."""

    returncode: int | None  # None when it timed out or could not start
    timed_out: bool
    error: str | None
    seconds: float

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def scrubbed_environment(
    environ: Mapping[str, str], extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Return the allow-listed variables of ``environ`` (plus ``LC_*``) and ``extra``."""
    env = {
        k: v
        for k, v in environ.items()
        if k in CHILD_ENVIRONMENT or k.startswith(CHILD_ENVIRONMENT_PREFIXES)
    }
    env.setdefault("PATH", _DEFAULT_PATH)
    if extra:
        env.update(extra)
    return env


def mask(text: str, values: Iterable[str | bytes]) -> str | None:
    """Replace every value in ``text`` by ``<redacted>``.

    Returns None when ``text`` must not be shown at all (a value too short to mask safely).
    """
    strings: list[str] = []
    for value in values:
        s = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
        if not s:
            continue
        if len(s) < _MIN_MASKED_LEN:
            return None
        strings.append(s)
        strings.extend(line for line in s.splitlines() if len(line) >= _MIN_MASKED_LEN)
    for s in sorted(set(strings), key=len, reverse=True):
        text = text.replace(s, "<redacted>")
    return text


def run_on_change(
    argv: Sequence[str],
    *,
    timeout: float,
    label: str,
    secret_values: Iterable[str | bytes] = (),
    environ: Mapping[str, str] | None = None,
    extra_env: Mapping[str, str] | None = None,
) -> CommandResult:
    """Run ``argv`` once; never raises. ``label`` names the secret in log lines."""
    env = scrubbed_environment(os.environ if environ is None else environ, extra_env)
    started = time.monotonic()
    try:
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
            close_fds=True,
            start_new_session=True,
        )
    except OSError as exc:
        log.warning("on_change for %s could not start %r: %s", label, argv[0], exc.strerror)
        return CommandResult(None, False, exc.strerror or type(exc).__name__, 0.0)
    timed_out = False
    try:
        output, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        _kill_group(proc)
        output, _ = proc.communicate()
    seconds = time.monotonic() - started
    text = output.decode("utf-8", "replace")[:_MAX_LOGGED_CHARS] if output else ""
    if text and log.isEnabledFor(logging.DEBUG):
        shown = mask(text, secret_values)
        if shown is None:
            log.debug("on_change for %s printed %d bytes (not shown)", label, len(output))
        else:
            log.debug("on_change for %s output: %s", label, shown.rstrip())
    if timed_out:
        log.warning("on_change for %s timed out after %.1fs and was killed", label, timeout)
        return CommandResult(None, True, f"timed out after {timeout:g}s", seconds)
    if proc.returncode != 0:
        log.warning("on_change for %s exited with status %d", label, proc.returncode)
        return CommandResult(proc.returncode, False, f"exit status {proc.returncode}", seconds)
    log.info("on_change for %s finished in %.2fs", label, seconds)
    return CommandResult(0, False, None, seconds)


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    except OSError:
        proc.kill()
