"""Where the dev server may listen: loopback unless told otherwise, HTTPS from PEM files."""

from __future__ import annotations

import ipaddress
import os
import ssl


def is_loopback(host: str) -> bool:
    """Whether ``host`` names a loopback address."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def server_tls_context(
    cert: str | os.PathLike[str] | None, key: str | os.PathLike[str] | None
) -> ssl.SSLContext | None:
    """A server-side TLS context from PEM files, or None when neither is given.

    Raises ``ValueError`` when only one is given or the files cannot be loaded.
    """
    if cert is None and key is None:
        return None
    if cert is None or key is None:
        raise ValueError("TLS needs both a certificate and a private key")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(os.fspath(cert), os.fspath(key))
    except OSError as exc:  # ssl.SSLError included
        reason = exc.strerror or getattr(exc, "reason", None) or type(exc).__name__
        raise ValueError(
            f"cannot load the TLS certificate {os.fspath(cert)!r} and key {os.fspath(key)!r}: "
            f"{reason}"
        ) from None
    return context
