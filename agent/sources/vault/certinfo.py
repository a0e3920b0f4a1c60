"""A certificate's validity (notBefore, notAfter) read from its PEM text.

Only the few DER elements in front of the validity are walked (version, serial number,
signature algorithm, issuer); nothing is verified: the agent only needs to know when the
certificate it was just issued ends, to re-issue it in time.
"""

from __future__ import annotations

import base64
import binascii
import calendar
import re

__all__ = ["CertificateError", "validity"]

_PEM = re.compile(r"-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----", re.DOTALL)


class CertificateError(ValueError):
    """The text holds no certificate whose validity can be read."""


def validity(pem: str) -> tuple[float, float]:
    """(notBefore, notAfter) of the first certificate in ``pem``, in Unix seconds."""
    match = _PEM.search(pem)
    if match is None:
        raise CertificateError("no PEM certificate")
    try:
        der = base64.b64decode("".join(match.group(1).split()), validate=True)
    except (binascii.Error, ValueError):
        raise CertificateError("the PEM certificate is not valid base64") from None
    try:
        cert, _ = _element(der, 0, 0x30)
        tbs, _ = _element(der, cert, 0x30)
        pos = tbs
        if der[pos] == 0xA0:  # [0] version
            pos = _skip(der, pos)
        for _ in range(3):  # serial number, signature algorithm, issuer
            pos = _skip(der, pos)
        inner, _ = _element(der, pos, 0x30)
        not_before, after_pos = _time(der, inner)
        not_after, _ = _time(der, after_pos)
    except (IndexError, ValueError) as exc:
        raise CertificateError(f"cannot read the certificate's validity ({exc})") from None
    return not_before, not_after


def _header(der: bytes, pos: int) -> tuple[int, int, int]:
    """(tag, start of content, content length) of the element at ``pos``."""
    tag = der[pos]
    length = der[pos + 1]
    start = pos + 2
    if length & 0x80:
        count = length & 0x7F
        if not 0 < count <= 4:
            raise ValueError("bad DER length")
        length = int.from_bytes(der[start : start + count], "big")
        start += count
    if start + length > len(der):
        raise ValueError("truncated DER")
    return tag, start, length


def _element(der: bytes, pos: int, tag: int) -> tuple[int, int]:
    """(start of content, end) of the element at ``pos``, which must have ``tag``."""
    found, start, length = _header(der, pos)
    if found != tag:
        raise ValueError(f"unexpected DER tag {found:#x}")
    return start, start + length


def _skip(der: bytes, pos: int) -> int:
    _, start, length = _header(der, pos)
    return start + length


def _time(der: bytes, pos: int) -> tuple[float, int]:
    tag, start, length = _header(der, pos)
    text = der[start : start + length].decode("ascii")
    if tag == 0x17 and len(text) == 13 and text.endswith("Z"):  # UTCTime YYMMDDHHMMSSZ
        year = int(text[:2])
        year += 2000 if year < 50 else 1900
        rest = text[2:12]
    elif tag == 0x18 and len(text) == 15 and text.endswith("Z"):  # GeneralizedTime
        year, rest = int(text[:4]), text[4:14]
    else:
        raise ValueError("unsupported certificate time")
    fields = [int(rest[i : i + 2]) for i in range(0, 10, 2)]
    when = calendar.timegm((year, *fields, 0, 0, 0))
    return float(when), start + length
