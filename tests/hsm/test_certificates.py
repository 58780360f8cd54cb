"""Certificate objects on a token (hsm.certificates): written once next to their key,
read back by key id; a retried write is a no-op, another certificate on the id is refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from asn1crypto import core as asn1_core
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from hsm import Hsm, HsmPrivateKey, KeyExists, KeySpec
from hsm.certificates import CertificateObject, read_certificates, store_certificate
from tests.softhsm import SoftHsmToken


def _object(key: HsmPrivateKey, serial: int) -> CertificateObject:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, key.label)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return CertificateObject(
        label=key.label,
        key_id=key.key_id,
        value=cert.public_bytes(Encoding.DER),
        subject=cert.subject.public_bytes(),
        issuer=cert.issuer.public_bytes(),
        serial_number=bytes(asn1_core.Integer(serial).dump()),
    )


def test_a_certificate_is_stored_once_with_its_key_id_and_read_back(
    fresh_token: SoftHsmToken,
) -> None:
    hsm = Hsm.open(fresh_token.uri)
    key = hsm.generate_key("card-auth", KeySpec.EC_P256, key_id=b"\x01")
    first = _object(key, 1)
    assert read_certificates(hsm) == []
    store_certificate(hsm, first)
    store_certificate(hsm, first)  # a retried write finds its own object
    assert read_certificates(hsm) == [first]
    with pytest.raises(KeyExists, match="another certificate with label 'card-auth'"):
        store_certificate(hsm, _object(key, 2))
    assert read_certificates(hsm) == [first]
