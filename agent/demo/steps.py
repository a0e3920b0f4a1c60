"""The steps of ``secrets-agent demo``, each a method printing what it does and what it saw.

``DemoRun`` drives the real pieces: the Vault-compatible dev server, the agent
(``secrets_agent.daemon.agent.Agent`` with its background scheduler) and the reader library
(``libs.secrets.FileSecretManager``). Values are only ever printed through ``mask``.
"""

from __future__ import annotations

import base64
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from secrets_agent.demo.output import Printer, format_elapsed, mask
from secrets_agent.demo.workspace import DemoError, Workspace

READER_KEY = "alpaca/api_key_id"
READER_TTL = 3600.0
WAIT_LIMIT = 20.0  # seconds any single wait may take before the demo gives up
POLL = 0.0005


def _fake_pem() -> str:
    body = base64.encodebytes(secrets.token_bytes(96)).decode("ascii")
    return f"-----BEGIN PRIVATE KEY-----\n{body}-----END PRIVATE KEY-----\n"


def _wait(condition: Callable[[], bool], what: str, limit: float = WAIT_LIMIT) -> float:
    """Poll ``condition`` until it is true; return the seconds it took or raise DemoError."""
    start = time.perf_counter()
    while not condition():
        if time.perf_counter() - start > limit:
            raise DemoError(f"gave up after {limit:.0f} s waiting for {what}")
        time.sleep(POLL)
    return time.perf_counter() - start


class DemoRun:
    """State shared by the demo's steps; ``close()`` stops everything that was started."""

    def __init__(self, workspace: Workspace, out: Printer, *, interval: float) -> None:
        self.workspace = workspace
        self.out = out
        self.interval = interval
        self._vault: Any = None
        self._agent: Any = None
        self._reader: Any = None
        self._values: dict[str, dict[str, str]] = {}

    # -- setup ---------------------------------------------------------------------------

    @property
    def vault_url(self) -> str:
        return str(self._vault.url)

    @property
    def root_token(self) -> str:
        return str(self._vault.root_token)

    def start_server(self, port: int) -> None:
        from secrets_agent.devserver import VaultDevServer

        server = VaultDevServer(host="127.0.0.1", port=port)
        try:
            server.start()
        except OSError as exc:
            where = f"port {port}" if port else "a free port"
            raise DemoError(
                f"cannot start the dev server on 127.0.0.1 {where} ({exc.strerror or exc}). "
                "Pick another port with --port N, or leave --port out to use any free port",
                exit_code=2,
            ) from exc
        self._vault = server
        self.out.step(
            "Vault-compatible dev server",
            f"Listening on {server.url} (in memory, this process, loopback only).",
            "It speaks Vault's HTTP API, so the agent uses the same client code as in production.",
        )

    def seed(self) -> None:
        self._values = {
            "alpaca": {
                "api_key_id": "PK" + secrets.token_hex(10).upper(),
                "api_secret": secrets.token_urlsafe(30),
            },
            "postgres": {"username": "app", "password": secrets.token_urlsafe(18)},
            "tls/web": {"key": _fake_pem()},
        }
        self.out.step("Seed secrets (KV v2, mount 'secret')", "Random values, created now:")
        for path, fields in self._values.items():
            version = self._vault.put_secret(path, fields)
            shown = ", ".join(f"{name}={mask(value)}" for name, value in fields.items())
            self.out.item(f"secret/{path} v{version}: {shown}")

    @staticmethod
    def specs() -> list[dict[str, object]]:
        """The ``[[secrets]]`` entries of the demo's config: four output formats."""
        return [
            {"path": "alpaca"},
            {"path": "postgres", "target": "postgres.env", "format": "env"},
            {
                "path": "postgres",
                "target": "postgres.url",
                "format": "template",
                "template": "postgresql://{{ username }}:{{ password | urlquote }}@127.0.0.1/app",
            },
            {"path": "tls/web", "target": "tls/web.key", "format": "raw", "field": "key"},
        ]

    # -- the agent -----------------------------------------------------------------------

    def first_sync(self) -> None:
        from secrets_agent.config.load import ConfigError, load_config
        from secrets_agent.daemon.agent import Agent

        try:
            config = load_config(self.workspace.config_path)
        except ConfigError as exc:
            raise DemoError(f"the demo's config was rejected:\n{exc}") from exc
        self._agent = Agent(config)
        started = time.perf_counter()
        report = self._agent.sync_once()
        took = time.perf_counter() - started
        if not report.ok:
            failed = "; ".join(f"{target}: {error}" for target, error in report.failed.items())
            raise DemoError(f"the agent's first sync failed: {failed}")
        self._agent.start()
        self.out.step(
            "The agent: first sync, then background refresh",
            f"secrets_agent.daemon.agent.Agent fetched {report.written} secret(s) and wrote their "
            f"files in {format_elapsed(took)}.",
            "Each file is written to a temp file with its final mode, then renamed into place.",
            f"It now refreshes every {self.interval:g} s (+-10% jitter) in a background thread.",
            f"The directory is on {self.workspace.fs_type}: in memory, not on a disk;",
            f"{self.workspace.swap_note}.",
        )

    # -- the reader ----------------------------------------------------------------------

    def read_with_library(self) -> None:
        from libs.secrets import FileSecretManager

        self._reader = FileSecretManager(str(self.workspace.output_dir), ttl_seconds=READER_TTL)
        value = self._reader.get_secret(READER_KEY)
        expected = self._values["alpaca"]["api_key_id"]
        calls = 10_000
        started = time.perf_counter()
        for _ in range(calls):
            self._reader.get_secret(READER_KEY)
        per_call = (time.perf_counter() - started) / calls
        self.out.step(
            "Your service reads it with libs.secrets",
            "In a service: SECRET_BACKEND=file SECRETS_DIR=<dir> SECRET_CACHE_TTL=3600, then",
            f"create_secret_manager().get_secret({READER_KEY!r}). Here: FileSecretManager(dir).",
        )
        self.out.item(f"get_secret({READER_KEY!r}) -> {mask(value)}")
        self.out.item(f"same as the value in Vault: {'yes' if value == expected else 'NO'}")
        self.out.item(f"cached reads afterwards: {format_elapsed(per_call)} a call (TTL 1 h)")
        if value != expected:
            raise DemoError("the reader returned a different value than the one in Vault")

    # -- rotation ------------------------------------------------------------------------

    def rotate(self) -> None:
        file = self.workspace.output_dir / READER_KEY
        old_inode = file.stat().st_ino
        old = self._values["alpaca"]["api_key_id"]
        new = "PK" + secrets.token_hex(10).upper()
        self._values["alpaca"] = {**self._values["alpaca"], "api_key_id": new}
        self.out.step(
            "Rotation",
            f"A new {READER_KEY} is written to Vault. The agent picks it up at its next refresh,",
            "replaces the file atomically, the reader's file watcher drops the cached entry, and",
            "the next get_secret() returns the new value, although the cache TTL is 1 hour.",
        )
        started = time.perf_counter()
        version = self._vault.put_secret("alpaca", self._values["alpaca"])
        replaced_at: list[float] = []

        def reader_sees_new() -> bool:
            if not replaced_at and _inode(file) not in (None, old_inode):
                replaced_at.append(time.perf_counter())
            return bool(self._reader.get_secret(READER_KEY) == new)

        _wait(reader_sees_new, "the reader to return the rotated value")
        seen_at = time.perf_counter()
        file_at = replaced_at[0] if replaced_at else seen_at
        self.out.item(f"Vault now at v{version}: {mask(old)} -> {mask(new)}")
        self.out.item(
            f"Vault write -> file replaced by the agent:  {format_elapsed(file_at - started)}"
            f"  (waits for the next refresh, every {self.interval:g} s)"
        )
        self.out.item(
            f"file replaced -> reader returns new value: {format_elapsed(seen_at - file_at)}"
            "  (file event -> cache invalidation)"
        )
        self.out.item(
            f"total propagation time:                    {format_elapsed(seen_at - started)}"
        )

    # -- outage --------------------------------------------------------------------------

    def outage(self) -> None:
        output_dir = self.workspace.output_dir
        before = {p: p.read_bytes() for p in output_dir.rglob("*") if _is_secret_file(p)}
        self._vault.seal()
        self.out.step(
            "Outage: Vault is sealed",
            "Every request to Vault now fails. The agent keeps the last good files, backs off",
            "and retries; readers keep working from the files and their cache.",
        )

        def agent_noticed() -> bool:
            return any(state.last_error for state in self._agent.states())

        _wait(agent_noticed, "the agent to report the outage in .status.json")
        time.sleep(self.interval)  # let a few more refresh attempts fail
        states = self._agent.states()
        failing = [state for state in states if state.last_error]
        self.out.item(f"agent: {len(failing)} of {len(states)} secrets failing, files kept")
        for state in failing[:2]:
            self.out.item(
                f"{state.target}: {state.consecutive_failures} failed attempt(s), "
                f"last error: {state.last_error}"
            )
        after = {p: p.read_bytes() for p in output_dir.rglob("*") if _is_secret_file(p)}
        unchanged = before == after
        self.out.item(f"files: {len(after)} present, {'all unchanged' if unchanged else 'CHANGED'}")
        self.out.line("   `secrets-agent status` (from .status.json; no values):")
        self._show_status()
        value = self._reader.get_secret(READER_KEY)
        self.out.item(f"reader (cached):      get_secret({READER_KEY!r}) -> {mask(value)}")
        from libs.secrets import FileSecretManager

        with FileSecretManager(str(output_dir), ttl_seconds=0) as uncached:
            fresh = uncached.get_secret(READER_KEY)
        self.out.item(f"reader (no cache):    get_secret({READER_KEY!r}) -> {mask(fresh)}")
        if not unchanged or value != fresh:
            raise DemoError("files or reader changed during the outage")

        self._vault.unseal()
        self.out.step("Vault is back (unsealed)", "The agent's next retry succeeds.")

        def agent_recovered() -> bool:
            return not any(state.last_error for state in self._agent.states())

        took = _wait(agent_recovered, "the agent to recover after the unseal")
        self.out.item(f"all secrets fresh again {format_elapsed(took)} after the unseal")

    def _show_status(self) -> None:
        from secrets_agent.status import format_status, read_status

        table = format_status(read_status(self.workspace.output_dir), now=time.time())
        for line in table.splitlines():
            self.out.line(f"     {line}")

    # -- teardown ------------------------------------------------------------------------

    def close(self) -> None:
        """Stop the reader, the agent and the dev server, whichever were started."""
        if self._reader is not None:
            self._reader.close()
            self.out.item("reader closed (file watcher stopped)")
        if self._agent is not None:
            self._agent.stop()
            self.out.item("agent stopped")
        if self._vault is not None:
            self._vault.stop()
            self.out.item("dev server stopped")


def _inode(path: Path) -> int | None:
    try:
        return path.stat().st_ino
    except FileNotFoundError:
        return None


def _is_secret_file(path: Path) -> bool:
    return path.is_file() and not path.name.startswith(".")
