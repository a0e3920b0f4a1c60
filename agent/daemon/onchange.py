"""Run a secret's ``on_change`` command after its files changed.

The command runs without a shell, in its own process group, with a timeout (the whole group is
killed when it expires), stdin closed, and an environment reduced to an allow-list: nothing the
agent holds (Vault or AWS credentials, ``NOTIFY_SOCKET``, ``CREDENTIALS_DIRECTORY``) is passed on.

What is logged: one line per run with the exit status, the time taken and how many bytes the
command printed, never its text. A hook can print a value in forms no mask can know (its own
encoding, a slice, a transformation), so the text is only shown when the operator asks for it
with ``SECRETS_AGENT_ON_CHANGE_OUTPUT=masked`` in the agent's environment, and then only at
DEBUG, masked before it is cut to ``MAX_SHOWN_CHARS``: every run of 8 or more characters that
also occurs in a secret value or in a file the agent wrote for the secret (or in their JSON,
base64 or hex forms) is hidden, and shorter values where they occur whole.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import signal
import subprocess
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from secrets_agent.hardening import CHILD_ENVIRONMENT, CHILD_ENVIRONMENT_PREFIXES

log = logging.getLogger(__name__)

OUTPUT_SWITCH = "SECRETS_AGENT_ON_CHANGE_OUTPUT"  # "masked": show masked output at DEBUG
MAX_SHOWN_CHARS = 2000
_DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_MIN_MASKED_LEN = 4  # shorter values could not be masked without hiding all of the output
_GRAM = 8  # a run this long that occurs in a value is hidden wherever it appears
_REDACTED = "<redacted>"


@dataclass(frozen=True)
class CommandResult:
    """What happened to one ``on_change`` run (no output is kept)."""

    returncode: int | None  # None when it timed out or could not start
    timed_out: bool
    error: str | None
    seconds: float
    output_bytes: int = 0

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


def _forms(value: str | bytes) -> Iterable[str]:
    """``value`` as text and in the encodings a hook is likely to print it in."""
    raw = value if isinstance(value, bytes) else value.encode("utf-8", "surrogatepass")
    text = raw.decode("utf-8", "replace")
    yield text
    yield json.dumps(text)[1:-1]
    yield json.dumps(text, ensure_ascii=False)[1:-1]
    yield base64.b64encode(raw).decode("ascii")
    yield base64.urlsafe_b64encode(raw).decode("ascii")
    yield raw.hex()


def mask(text: str, values: Iterable[str | bytes], *, limit: int | None = None) -> str | None:
    """``text`` with every value hidden (see the module docstring), then cut to ``limit``.

    Returns None when ``text`` must not be shown at all (a value too short to mask safely).
    Costs O(len(text[:limit]) + total length of the values) time, O(len(text[:limit])) memory.
    """
    window = text if limit is None else text[: limit + _GRAM - 1]
    starts: dict[str, list[int]] = {}
    for i in range(len(window) - _GRAM + 1):
        starts.setdefault(window[i : i + _GRAM], []).append(i)
    hidden = bytearray(len(window))
    for value in values:
        if not value:
            continue
        if len(value) < _MIN_MASKED_LEN:
            return None
        for form in _forms(value):
            for piece in {form, *form.splitlines()}:
                if len(piece) < _MIN_MASKED_LEN:
                    continue
                if len(piece) < _GRAM:
                    _hide_whole(window, piece, hidden)
                    continue
                for j in range(len(piece) - _GRAM + 1):
                    for i in starts.pop(piece[j : j + _GRAM], ()):
                        hidden[i : i + _GRAM] = b"\x01" * _GRAM
    shown = _render(window, hidden)
    return shown if limit is None else shown[:limit]


def _hide_whole(window: str, piece: str, hidden: bytearray) -> None:
    at = window.find(piece)
    while at != -1:
        hidden[at : at + len(piece)] = b"\x01" * len(piece)
        at = window.find(piece, at + 1)


def _render(window: str, hidden: bytearray) -> str:
    parts: list[str] = []
    i = 0
    while i < len(window):
        if hidden[i]:
            while i < len(window) and hidden[i]:
                i += 1
            parts.append(_REDACTED)
        else:
            j = hidden.find(1, i)
            j = len(window) if j == -1 else j
            parts.append(window[i:j])
            i = j
    return "".join(parts)


def output_wanted(environ: Mapping[str, str]) -> bool:
    """True when the operator asked for hook output (``SECRETS_AGENT_ON_CHANGE_OUTPUT=masked``)."""
    return environ.get(OUTPUT_SWITCH, "").strip().lower() == "masked"


def run_on_change(
    argv: Sequence[str],
    *,
    timeout: float,
    label: str,
    secret_values: Iterable[str | bytes] = (),
    environ: Mapping[str, str] | None = None,
    extra_env: Mapping[str, str] | None = None,
    show_output: bool | None = None,
) -> CommandResult:
    """Run ``argv`` once; never raises. ``label`` names the secret in log lines.

    ``secret_values`` (consumed only when output is shown) are the values and rendered files
    to hide; ``show_output`` defaults to ``output_wanted(os.environ)``.
    """
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
    size = len(output or b"")
    if show_output is None:
        show_output = output_wanted(os.environ)
    if output and show_output and log.isEnabledFor(logging.DEBUG):
        _log_output(label, output, secret_values)
    printed = f"printed {size} bytes"
    if timed_out:
        log.warning(
            "on_change for %s timed out after %.1fs and was killed (%s)", label, timeout, printed
        )
        return CommandResult(None, True, f"timed out after {timeout:g}s", seconds, size)
    if proc.returncode != 0:
        log.warning("on_change for %s exited with status %d (%s)", label, proc.returncode, printed)
        return CommandResult(
            proc.returncode, False, f"exit status {proc.returncode}", seconds, size
        )
    log.info("on_change for %s finished in %.2fs (exit status 0, %s)", label, seconds, printed)
    return CommandResult(0, False, None, seconds, size)


def _log_output(label: str, output: bytes, values: Iterable[str | bytes]) -> None:
    shown = mask(output.decode("utf-8", "replace"), values, limit=MAX_SHOWN_CHARS)
    if shown is None:
        log.debug("on_change for %s output not shown (a value too short to mask)", label)
    else:
        log.debug("on_change for %s output (masked): %s", label, shown.rstrip())


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    except OSError:
        proc.kill()
