"""Reading a credential file (a Vault token, an AppRole secret_id, a service-account token).

Read at the moment of use, never cached here, so a file rotated by systemd credentials or a
Kubernetes projected volume is picked up by the next login. Surrounding whitespace (the trailing
newline editors and ``echo`` add) is stripped; an empty file is an error, since no server takes
an empty credential. Messages name the file, never its content.
"""

from __future__ import annotations

import os


class CredentialFileError(ValueError):
    """A credential file could not be read, is not UTF-8 text, or is empty."""


def read_credential_file(path: os.PathLike[str] | str, what: str) -> str:
    """Return the stripped content of the ``what`` file at ``path``.

    ``what`` names the credential in messages ("token", "secret_id"). Raises
    ``CredentialFileError`` with a one-line message naming the file and the reason.
    """
    name = os.fspath(path)
    try:
        with open(name, "rb") as handle:
            data = handle.read(1024 * 1024 + 1)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise CredentialFileError(f"cannot read the {what} file {name}: {reason}") from None
    if len(data) > 1024 * 1024:
        raise CredentialFileError(f"the {what} file {name} is larger than 1 MiB")
    try:
        value = data.decode("utf-8").strip()
    except UnicodeDecodeError:
        # No chaining: the decode error would quote bytes of the credential.
        raise CredentialFileError(f"the {what} file {name} is not UTF-8 text") from None
    if not value:
        raise CredentialFileError(f"the {what} file {name} is empty")
    return value


__all__ = ["CredentialFileError", "read_credential_file"]
