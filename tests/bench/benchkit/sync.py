"""Agent-sync helpers: configs for N secrets, the plain baseline loops, file snapshots."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def vault_paths(prefix: str, count: int) -> list[str]:
    """The KV paths ``vault_proc.py seed PREFIX COUNT`` creates."""
    return [f"{prefix}/s{i:05d}" for i in range(count)]


def vault_config_data(url: str, token: str, paths: Sequence[str], out: Path) -> dict[str, Any]:
    """An agent config (as parsed TOML) syncing ``paths`` as ``fields`` into ``out``."""
    return {
        "agent": {"output_dir": str(out), "refresh_interval": "1h"},
        "backend": {
            "type": "vault",
            "address": url,
            "auth": {"method": "token", "token": token},
            "kv_mount": "secret",
            "kv_version": 2,
        },
        "secrets": [{"path": p} for p in paths],
    }


def aws_config_data(endpoint: str, names: Sequence[str], out: Path) -> dict[str, Any]:
    """An agent config syncing AWS secrets ``names`` (JSON objects -> fields) into ``out``."""
    return {
        "agent": {"output_dir": str(out), "refresh_interval": "1h"},
        "backend": {"type": "aws", "region": "us-east-1", "endpoint_url": endpoint},
        "secrets": [{"path": n} for n in names],
    }


def parse(data: dict[str, Any]) -> Any:
    """The product's parse_config (environment kept out of it)."""
    from secrets_agent.config.load import parse_config

    return parse_config(data, environ={})


def agent_sync(config: Any) -> tuple[Any, Any]:
    """Build an Agent for ``config`` and run one full sync; return (agent, report)."""
    from secrets_agent.daemon.agent import Agent

    agent = Agent(config)
    return agent, agent.sync_once()


def close_agent(agent: Any) -> None:
    """Release the agent's resources whatever state it is in."""
    stop = getattr(agent, "stop", None)
    if stop is not None:
        try:
            stop(timeout=5)
        except Exception as exc:
            print(f"  (agent.stop failed: {type(exc).__name__})")


def write_fields(out: str, path: str, data: dict[str, Any]) -> None:
    """What a hand-written sync loop does: one plain file per field."""
    directory = os.path.join(out, path)
    os.makedirs(directory, exist_ok=True)
    for name, value in data.items():
        with open(os.path.join(directory, name), "w") as f:
            f.write(str(value))


def plain_vault_loop(url: str, token: str, paths: Sequence[str], out: str) -> None:
    """Baseline: a sequential loop of hvac KV v2 reads and ``open().write()``."""
    import hvac

    client = hvac.Client(url=url, token=token)
    read = client.secrets.kv.v2.read_secret_version
    for path in paths:
        resp = read(path=path, mount_point="secret", raise_on_deleted_version=True)
        write_fields(out, path, resp["data"]["data"])


def lean_vault_loop(url: str, token: str, paths: Sequence[str], out: str) -> None:
    """Reference floor: the same reads over one ``http.client`` keep-alive connection."""
    import http.client
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=30)
    conn.connect()
    assert conn.sock is not None
    conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    headers = {"X-Vault-Token": token}
    try:
        for path in paths:
            conn.request("GET", f"/v1/secret/data/{path}", headers=headers)
            resp = conn.getresponse()
            body = resp.read()
            if resp.status != 200:
                raise RuntimeError(f"HTTP {resp.status} for {path}")
            write_fields(out, path, json.loads(body)["data"]["data"])
    finally:
        conn.close()


def plain_aws_loop(client: Any, names: Sequence[str], out: str) -> None:
    """Baseline: one GetSecretValue per secret, JSON fields written as plain files."""
    for name in names:
        resp = client.get_secret_value(SecretId=name)
        write_fields(out, name, json.loads(resp["SecretString"]))


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """(inode, mtime_ns) of every regular file under ``root`` (dot files included)."""
    result: dict[str, tuple[int, int]] = {}
    stack = [str(root)]
    while stack:
        with os.scandir(stack.pop()) as it:
            for entry in it:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
                elif entry.is_file(follow_symlinks=False):
                    st = entry.stat(follow_symlinks=False)
                    result[entry.path] = (st.st_ino, st.st_mtime_ns)
    return result


def changed_files(
    before: dict[str, tuple[int, int]], after: dict[str, tuple[int, int]]
) -> tuple[int, list[str]]:
    """Secret files created, replaced or modified between two snapshots, and the names of the
    agent's own dot files (``.status.json``) that changed."""
    secret_files = 0
    dot_files: list[str] = []
    for path, sig in after.items():
        if before.get(path) == sig:
            continue
        name = os.path.basename(path)
        if name.startswith("."):
            dot_files.append(name)
        else:
            secret_files += 1
    return secret_files, sorted(dot_files)


def timed(fn: Any, *args: Any) -> float:
    """Wall seconds of one call."""
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start
