"""Run an agent as a black-box process and read its cost from the kernel.

- :func:`run_once`: a one-shot process to its exit; wall time, CPU (user + system) and peak
  RSS come from ``wait4``'s resource usage.
- :class:`Daemon`: a long-running agent; CPU seconds from ``/proc/PID/stat`` at any moment,
  RSS sampled once a second by a thread, the kernel's peak (``VmHWM``) at the end.
"""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class OneShot:
    wall_s: float
    cpu_s: float
    max_rss_mib: float
    exit_code: int


def run_once(cmd: list[str], log: Path, timeout: float) -> OneShot:
    """Run ``cmd`` to its exit, output to ``log``; kill it after ``timeout`` seconds."""
    with log.open("ab") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
    return OneShot(
        wall_s=wall,
        cpu_s=usage.ru_utime + usage.ru_stime,
        max_rss_mib=usage.ru_maxrss / 1024,
        exit_code=proc.returncode,
    )


def proc_status(pid: int, key: str) -> float:
    """A ``kB`` field of ``/proc/PID/status`` (``VmRSS``, ``VmHWM``) in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"{key} not found for pid {pid}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a live process (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def count_files(directory: Path) -> int:
    """Regular files directly in ``directory`` whose name does not start with a dot."""
    try:
        with os.scandir(directory) as it:
            return sum(1 for e in it if not e.name.startswith(".") and e.is_file())
    except FileNotFoundError:
        return 0


class Daemon:
    """A long-running agent process with a one-second RSS sampler."""

    def __init__(self, cmd: list[str], log: Path) -> None:
        self._log = log.open("ab")
        self.started = time.monotonic()
        self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT)
        self.pid = self.proc.pid
        self._samples: list[float] = []
        self._sampling = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(1.0):
            if self._sampling:
                try:
                    self._samples.append(proc_status(self.pid, "VmRSS"))
                except (OSError, RuntimeError):
                    return

    def alive(self) -> bool:
        return self.proc.poll() is None

    def wait_files(self, directory: Path, count: int, timeout: float) -> float | None:
        """Seconds from the start until ``count`` files exist in ``directory``; None on timeout
        or if the process exits first."""
        deadline = time.monotonic() + timeout
        pause = 0.05 + count / 200_000  # listing 50,000 files costs tens of ms
        while time.monotonic() < deadline and self.alive():
            if count_files(directory) >= count:
                return time.monotonic() - self.started
            time.sleep(pause)
        return None

    def cpu(self) -> float:
        return cpu_seconds(self.pid)

    def sample_rss(self, on: bool) -> None:
        """Start (``True``) or stop sampling RSS; samples accumulate across windows."""
        if on:
            self._samples.clear()
            self._samples.append(proc_status(self.pid, "VmRSS"))
        self._sampling = on

    def rss(self) -> tuple[float, float]:
        """(median, max) of the RSS samples of the last window, MiB."""
        if not self._samples:
            return 0.0, 0.0
        return statistics.median(self._samples), max(self._samples)

    def peak(self) -> float:
        return proc_status(self.pid, "VmHWM")

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 15 s."""
        self._stop.set()
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._thread.join(5)
        self._log.close()
