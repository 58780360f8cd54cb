"""The issuance cycle end to end: redemption -> certificate every relying party can trust."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtensionOID, NameOID

from issuer.audit import verify_chain
from issuer.lint import Severity, at_or_above, pkilint_cert
from issuer.profile import read_uzi_san
from issuer.store.schema import audit_events, certificates, registrations, serial_reservations
from testkit.phone import Phone
from tests.issuance.conftest import MOBILE, World, attributes


def _openssl_verify(world: World, cert: x509.Certificate, tmp_path: Path) -> str:
    material = world.ca.material
    (tmp_path / "root.pem").write_bytes(material.root.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "ca.pem").write_bytes(material.issuing_ca.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "leaf.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    done = subprocess.run(
        [
            "openssl",
            "verify",
            "-x509_strict",
            "-purpose",
            "sslclient",
            "-CAfile",
            str(tmp_path / "root.pem"),
            "-untrusted",
            str(tmp_path / "ca.pem"),
            str(tmp_path / "leaf.pem"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_redeemed_certificate_passes_pkilint_openssl_and_reads_back_the_attributes(
    world: World, new_phone: Callable[..., Phone], tmp_path: Path
) -> None:
    attrs = attributes()
    enrolment = world.enrol(attrs)
    phone = new_phone()
    result = world.redeemer.redeem(enrolment.token, phone.csr(), actor=MOBILE)
    assert not result.replayed
    cert = result.certificate.certificate

    findings = at_or_above(pkilint_cert(result.certificate.der), Severity.WARNING)
    assert findings == []
    assert "leaf.pem: OK" in _openssl_verify(world, cert, tmp_path)

    san = read_uzi_san(cert)
    assert (san.uzi_number, san.card_type, san.subscriber_number, san.role, san.agb_code) == (
        attrs.uzi_number,
        attrs.card_type,
        attrs.subscriber_number,
        attrs.role,
        attrs.agb_code,
    )
    assert san.ca_oid == world.policy.profile.ca_oid
    subject = {a.oid: a.value for a in cert.subject}
    assert subject[NameOID.SERIAL_NUMBER] == attrs.uzi_number
    assert subject[NameOID.COMMON_NAME] == attrs.common_name
    assert subject[NameOID.GIVEN_NAME] == attrs.given_name
    assert subject[NameOID.SURNAME] == attrs.surname
    assert subject[NameOID.ORGANIZATION_NAME] == attrs.organization
    assert subject[NameOID.TITLE] == attrs.title
    assert (
        cert.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        == phone.spki_der
    )

    # Stored, reservation finished, token marked, audit event: one transaction's worth.
    with world.engine.connect() as conn:
        stored = conn.execute(sa.select(certificates)).one()
        reservation = conn.execute(sa.select(serial_reservations)).one()
        registration = conn.execute(sa.select(registrations)).one()
        actions = list(conn.execute(sa.select(audit_events.c.action)).scalars())
    assert stored.serial == format(cert.serial_number, "x")
    assert stored.policy_version == world.policy_version
    assert reservation.state == "issued" and reservation.serial == stored.serial
    assert registration.state == "redeemed" and registration.certificate_id == stored.id
    assert registration.csr_sha256 is not None
    assert "certificate.issue" in actions
    public = world.ca.hsm.get_ec_key(world.ca.material.audit_key_label).public_key()
    assert verify_chain(world.engine, public).ok


def test_serial_is_positive_random_and_at_most_20_octets(
    world: World, new_phone: Callable[..., Phone]
) -> None:
    serials = []
    for n in range(5):
        enrolment = world.enrol(attributes(f"90001652{n}"))
        cert = world.redeemer.redeem(enrolment.token, new_phone().csr(), actor=MOBILE)
        serials.append(cert.certificate.certificate.serial_number)
    assert len(set(serials)) == 5
    for serial in serials:
        assert 0 < serial < 2**159
        assert serial.bit_length() > 64  # >= 64 random bits (probability 2^-95 to fail)


def test_nothing_but_the_public_key_comes_from_the_csr(
    world: World, new_phone: Callable[..., Phone]
) -> None:
    phone = new_phone()
    csr = phone.csr(
        subject="Evil Admin",
        dns_names=("evil.example", "portal.zorgid.example"),
        extensions=[
            (x509.BasicConstraints(ca=True, path_length=None), True),
            (
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=True,
                    key_encipherment=True,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                True,
            ),
            (x509.OCSPNoCheck(), False),
        ],
    )
    enrolment = world.enrol(attributes("900000002", card_type="N"))
    cert = world.redeemer.redeem(enrolment.token, csr, actor=MOBILE).certificate.certificate

    assert "Evil" not in cert.subject.rfc4514_string()
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == []
    assert len(list(san)) == 1  # only the UZI otherName
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and not usage.key_cert_sign and not usage.content_commitment
    oids = {e.oid for e in cert.extensions}
    assert ExtensionOID.OCSP_NO_CHECK not in oids
    assert read_uzi_san(cert).card_type == "N"
    assert (
        at_or_above(pkilint_cert(cert.public_bytes(serialization.Encoding.DER)), Severity.WARNING)
        == []
    )


@pytest.mark.parametrize("attempt", ["retry"])
def test_retry_with_same_csr_returns_the_same_certificate_and_other_csr_is_refused(
    world: World, new_phone: Callable[..., Phone], attempt: str
) -> None:
    from issuer.errors import ZorgIdError

    enrolment = world.enrol()
    phone, other = new_phone(), new_phone()
    csr = phone.csr()
    first = world.redeemer.redeem(enrolment.token, csr, actor=MOBILE)
    again = world.redeemer.redeem(enrolment.token, csr, actor=MOBILE)
    assert again.replayed and again.certificate == first.certificate
    with pytest.raises(ZorgIdError) as refused:
        world.redeemer.redeem(enrolment.token, other.csr(), actor=MOBILE)
    assert refused.value.code == "ZID-1303"
    with world.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(certificates)).scalar() == 1
