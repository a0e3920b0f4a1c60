"""Describe the machine and the package versions a benchmark run used."""

from __future__ import annotations

import datetime
import os
import platform
from importlib import metadata
from pathlib import Path

PACKAGES = (
    "tmpfs-secrets",
    "hvac",
    "boto3",
    "botocore",
    "moto",
    "watchdog",
    "APScheduler",
    "aws-secretsmanager-caching",
    "requests",
)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def mem_total_gib() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    return 0.0


def versions() -> str:
    parts = []
    for name in PACKAGES:
        try:
            parts.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
    return ", ".join(parts)


def describe() -> str:
    """A Markdown paragraph: date, CPU count and model, RAM, kernel, Python, packages."""
    today = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"Run on {today}: {os.cpu_count()} CPUs ({cpu_model()}), "
        f"{mem_total_gib():.0f} GiB RAM, Linux {platform.release()}, "
        f"Python {platform.python_version()}; {versions()}."
    )
