"""A certificate's validity read from its PEM text, checked against the cryptography package."""

from __future__ import annotations

import datetime

import pytest
from secrets_agent.sources.vault.certinfo import CertificateError, validity

x509 = pytest.importorskip("cryptography.x509")
ec = pytest.importorskip("cryptography.hazmat.primitives.asymmetric.ec")
hashes = pytest.importorskip("cryptography.hazmat.primitives.hashes")
serialization = pytest.importorskip("cryptography.hazmat.primitives.serialization")


def _pem(not_before: datetime.datetime, not_after: datetime.datetime) -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, "app.example.test")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()


@pytest.mark.parametrize("year", [2026, 2051])  # UTCTime, then GeneralizedTime
def test_validity_matches_the_certificate(year: int) -> None:
    start = datetime.datetime(2026, 12, 1, 16, 0, 5, tzinfo=datetime.UTC)
    end = datetime.datetime(year, 12, 1, 16, 0, 35, tzinfo=datetime.UTC)
    assert validity(_pem(start, end)) == (start.timestamp(), end.timestamp())


@pytest.mark.parametrize(
    "text",
    ["", "no certificate", "-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----",
     "-----BEGIN CERTIFICATE-----\nMAMCAQE=\n-----END CERTIFICATE-----"],
)  # fmt: skip
def test_not_a_certificate_is_a_certificate_error(text: str) -> None:
    with pytest.raises(CertificateError):
        validity(text)
