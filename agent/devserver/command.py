"""``secrets-agent dev-server``: run the Vault-compatible dev server in the foreground."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from types import FrameType
from typing import Any

from secrets_agent.devserver.flavor import DEFAULT_FLAVOR, FLAVORS
from secrets_agent.devserver.listen import is_loopback
from secrets_agent.devserver.seed import SeedError, load_seed
from secrets_agent.devserver.server import VaultDevServer


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the dev-server options to ``parser``."""
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (loopback only "
                        "unless --allow-remote; default 127.0.0.1)")  # fmt: skip
    parser.add_argument("--port", type=int, default=8200, help="port (default 8200; 0 = any)")
    parser.add_argument("--root-token", default=None, help="root token (default: random)")
    parser.add_argument(
        "--seed",
        default=None,
        metavar="FILE.json",
        help="JSON file with mounts, secrets and auth roles to load at start",
    )
    parser.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow binding a non-loopback address (insecure: an in-memory Vault with a root "
        "token)",
    )
    parser.add_argument(
        "--tls-cert",
        default=None,
        metavar="CERT.pem",
        help="serve HTTPS with this PEM certificate (chain); needs --tls-key",
    )
    parser.add_argument(
        "--flavor", choices=sorted(FLAVORS), default=DEFAULT_FLAVOR,
        help=f"whose error texts and response keys to answer with (default {DEFAULT_FLAVOR})",
    )  # fmt: skip
    parser.add_argument(
        "--tls-key", default=None, metavar="KEY.pem", help="the certificate's PEM private key"
    )


def run(args: argparse.Namespace) -> int:
    """Serve until SIGINT/SIGTERM (or ``args.stop_event`` when given). Returns the exit code."""
    host: str = args.host
    if not is_loopback(host):
        if not args.allow_remote:
            print(f"dev-server: refusing to bind non-loopback address {host!r} "
                  "(pass --allow-remote to do it anyway)", file=sys.stderr)  # fmt: skip
            return 2
        transport = "HTTPS" if getattr(args, "tls_cert", None) else "plain HTTP"
        print(f"dev-server: WARNING: binding {host!r}: an in-memory Vault with a root token, "
              f"{transport}, reachable from other machines", file=sys.stderr)  # fmt: skip
    try:
        server = VaultDevServer(host, args.port, args.root_token, allow_remote=args.allow_remote,
                                tls_cert=getattr(args, "tls_cert", None),
                                tls_key=getattr(args, "tls_key", None),
                                flavor=getattr(args, "flavor", DEFAULT_FLAVOR))  # fmt: skip
    except ValueError as exc:
        print(f"dev-server: {exc}", file=sys.stderr)
        return 2
    extra: list[str] = []
    if args.seed:
        try:
            extra = load_seed(server, args.seed)
        except SeedError as exc:
            print(f"dev-server: {exc}", file=sys.stderr)
            return 2
    try:
        server.start()
    except OSError as exc:
        print(f"dev-server: cannot listen on {host}:{args.port}: {exc.strerror}", file=sys.stderr)
        return 1
    stop: threading.Event = getattr(args, "stop_event", None) or threading.Event()
    previous = _install_signals(stop)
    try:
        for line in [f"VAULT_ADDR={server.url}", f"VAULT_TOKEN={server.root_token}", *extra]:
            print(line)
        sys.stdout.flush()
        while not stop.wait(0.5):
            pass
    finally:
        server.stop()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return 0


def _install_signals(stop: threading.Event) -> dict[signal.Signals, Any]:
    """SIGINT/SIGTERM set ``stop`` (only possible from the main thread)."""
    if threading.current_thread() is not threading.main_thread():
        return {}

    def _handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    return {sig: signal.signal(sig, _handler) for sig in (signal.SIGINT, signal.SIGTERM)}
