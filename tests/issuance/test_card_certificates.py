"""A ZORG-ID smartcard's certificates through the real issuance cycle (issue 19).

Each card usage is issued by the cycle on the dev hierarchy (SoftHSM) from an
RSA-2048 CSR, as a UZI-pas card's keys are, and must be pkilint-clean, verify
under ``openssl verify -x509_strict``, carry exactly the keyUsage/EKU of its
UZI-pas counterpart, read back through the engine's UZI reader as the verified
attributes laid out as an N card, take nothing from the CSR but the key, and
never outlive the UZI-pas it was proven with.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from issuer.cli import main
from issuer.errors import Code, ZorgIdError
from issuer.issuance.records import IssuanceRequest
from issuer.lint import Severity, at_or_above, pkilint_cert
from issuer.profile import VerifiedAttributes, read_uzi_san
from issuer.profile.usage import CARD_USAGES, DOCUMENT_SIGNING, EFS, CertificateUsage
from issuer.store.schema import certificates, mobile_ids
from policies import DEFAULT_POLICY_PATH, PolicyError, load_policy
from tests.issuance.conftest import PORTAL, CaSetup, World, attributes, build_world
from tests.store.dbfixtures import Database

ENABLED = DEFAULT_POLICY_PATH.read_text(encoding="utf-8").replace(
    "enabled = false", "enabled = true"
)

KEY_USAGE = {
    CertificateUsage.CARD_AUTHENTICATION: {"digital_signature"},
    CertificateUsage.CARD_SIGNATURE: {"content_commitment"},
    CertificateUsage.CARD_ENCRYPTION: {"key_encipherment", "data_encipherment"},
}
EKUS = {
    CertificateUsage.CARD_AUTHENTICATION: [
        ExtendedKeyUsageOID.CLIENT_AUTH,
        ExtendedKeyUsageOID.EMAIL_PROTECTION,
        DOCUMENT_SIGNING,
    ],
    CertificateUsage.CARD_SIGNATURE: [ExtendedKeyUsageOID.EMAIL_PROTECTION, DOCUMENT_SIGNING],
    CertificateUsage.CARD_ENCRYPTION: [ExtendedKeyUsageOID.EMAIL_PROTECTION, EFS],
}
PURPOSE = {
    CertificateUsage.CARD_AUTHENTICATION: "sslclient",
    CertificateUsage.CARD_SIGNATURE: "smimesign",
    CertificateUsage.CARD_ENCRYPTION: "smimeencrypt",
}
_BITS = (
    "digital_signature",
    "content_commitment",
    "key_encipherment",
    "data_encipherment",
    "key_agreement",
    "key_cert_sign",
    "crl_sign",
)


@pytest.fixture
def card_world(migrated_db: Database, migrated: sa.Engine, ca: CaSetup) -> Iterator[World]:
    yield build_world(migrated_db, migrated, ca, ENABLED)


def _rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(65537, 2048)


def _csr(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey, *, loaded: bool = False) -> bytes:
    """A CSR for ``key``; ``loaded`` puts in a subject, a SAN and extensions a card must not
    get (a CA flag, another keyUsage, serverAuth)."""
    builder = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Mallory" if loaded else "card")])
    )
    if loaded:
        builder = (
            builder.add_extension(
                x509.SubjectAlternativeName([x509.DNSName("evil.example")]), critical=False
            )
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
        )
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


def _issue(
    world: World,
    usage: CertificateUsage,
    csr: bytes,
    attrs: VerifiedAttributes | None = None,
    card_not_after: datetime | None = None,
) -> x509.Certificate:
    request = IssuanceRequest(
        attrs=attrs or attributes(card_type="N"),
        csr=csr,
        person_id=_person(world),
        actor=PORTAL,
        card_not_after=card_not_after,
        usage=usage,
    )
    return world.cycle.issue(request).certificate


def _person(world: World) -> str:
    """A person row the certificate can name, made by an enrolment as the flows make one."""
    return world.enrol(attributes(card_type="N")).person_id


def _openssl_verify(world: World, cert: x509.Certificate, purpose: str, tmp_path: Path) -> None:
    material = world.ca.material
    (tmp_path / "root.pem").write_bytes(material.root.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "ca.pem").write_bytes(material.issuing_ca.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "leaf.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    done = subprocess.run(
        [
            *("openssl", "verify", "-x509_strict", "-purpose", purpose),
            *("-CAfile", str(tmp_path / "root.pem"), "-untrusted", str(tmp_path / "ca.pem")),
            str(tmp_path / "leaf.pem"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0 and "leaf.pem: OK" in done.stdout, done.stdout + done.stderr


@pytest.mark.parametrize("usage", CARD_USAGES, ids=lambda u: u.value)
def test_each_card_certificate_is_clean_and_says_what_the_policy_says(
    card_world: World, usage: CertificateUsage, tmp_path: Path
) -> None:
    attrs = attributes(card_type="N")
    key = _rsa_key()
    cert = _issue(card_world, usage, _csr(key), attrs)
    der = cert.public_bytes(serialization.Encoding.DER)

    assert at_or_above(pkilint_cert(der), Severity.WARNING) == []
    _openssl_verify(card_world, cert, PURPOSE[usage], tmp_path)

    ku = cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert ku.critical
    assert {bit for bit in _BITS if getattr(ku.value, bit)} == KEY_USAGE[usage]
    assert list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == EKUS[usage]
    card = card_world.policy.smartcard
    expected_oids = [cp.oid for cp in getattr(card, usage.card_certificate).certificate_policies]
    policies = cert.extensions.get_extension_for_class(x509.CertificatePolicies).value
    assert [p.policy_identifier.dotted_string for p in policies] == expected_oids

    san = read_uzi_san(cert)
    assert san.ca_oid == card_world.policy.profile.ca_oid
    assert (san.uzi_number, san.card_type, san.subscriber_number, san.role, san.agb_code) == (
        attrs.uzi_number,
        attrs.card_type,
        attrs.subscriber_number,
        attrs.role,
        attrs.agb_code,
    )
    assert cert.public_key().public_numbers() == key.public_key().public_numbers()
    validity = cert.not_valid_after_utc - cert.not_valid_before_utc
    backdate = timedelta(seconds=card_world.policy.profile.backdate_seconds)
    assert validity == timedelta(days=card.validity_days) + backdate

    with card_world.engine.connect() as conn:
        row = conn.execute(
            sa.select(certificates.c.usage, certificates.c.mobile_id_id).where(
                certificates.c.serial == format(cert.serial_number, "x")
            )
        ).one()
        spki = conn.execute(sa.select(mobile_ids.c.id)).all()
    assert row == (usage.value, None)
    assert spki == []  # a card key makes no mobile ID


def test_certs_show_prints_the_usage(card_world: World, capsys: pytest.CaptureFixture[str]) -> None:
    cert = _issue(card_world, CertificateUsage.CARD_ENCRYPTION, _csr(_rsa_key()))
    serial = format(cert.serial_number, "x")
    assert main(["certs", "show", "--database", card_world.db.cli_url, "--serial", serial]) == 0
    assert '"usage": "card-encryption"' in capsys.readouterr().out


def test_a_z_holder_gets_an_n_card_layout(card_world: World) -> None:
    """UZI number, URA, AGB and names are the holder's; type N, role 00.000, no title."""
    attrs = attributes()
    cert = _issue(card_world, CertificateUsage.CARD_AUTHENTICATION, _csr(_rsa_key()), attrs)
    san = read_uzi_san(cert)
    assert (san.uzi_number, san.card_type, san.subscriber_number, san.role, san.agb_code) == (
        attrs.uzi_number,
        "N",
        attrs.subscriber_number,
        "00.000",
        attrs.agb_code,
    )
    assert cert.subject.get_attributes_for_oid(NameOID.TITLE) == []
    assert cert.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)[0].value == attrs.uzi_number


def test_nothing_but_the_key_comes_from_the_csr(card_world: World) -> None:
    key = _rsa_key()
    plain = _issue(card_world, CertificateUsage.CARD_SIGNATURE, _csr(key))
    loaded = _issue(card_world, CertificateUsage.CARD_SIGNATURE, _csr(key, loaded=True))
    assert plain.subject == loaded.subject
    assert plain.public_key().public_numbers() == loaded.public_key().public_numbers()

    def ext(cert: x509.Certificate) -> list[tuple[str, bool, object]]:
        return [
            (e.oid.dotted_string, e.critical, e.value)
            for e in cert.extensions
            if e.oid.dotted_string != "2.5.29.14"  # SKI: the same key, the same SKI
        ]

    assert ext(plain) == ext(loaded)
    assert plain.tbs_certificate_bytes.count(b"Mallory") == 0
    assert b"evil.example" not in loaded.tbs_certificate_bytes


def test_the_card_validity_is_capped_by_the_uzi_pas(card_world: World) -> None:
    card_end = datetime.now(UTC).replace(microsecond=0) + timedelta(days=30)
    cert = _issue(
        card_world, CertificateUsage.CARD_ENCRYPTION, _csr(_rsa_key()), card_not_after=card_end
    )
    assert cert.not_valid_after_utc == card_end


def test_a_key_type_the_card_certificate_does_not_allow_is_refused(card_world: World) -> None:
    for key in (ec.generate_private_key(ec.SECP256R1()), rsa.generate_private_key(65537, 3072)):
        with pytest.raises(ZorgIdError) as refused:
            _issue(card_world, CertificateUsage.CARD_AUTHENTICATION, _csr(key))
        assert refused.value.code == Code.ZID_1202
        assert "smartcard.authentication.key_types" in str(refused.value)


def test_a_policy_without_the_smartcard_refuses_card_usages(world: World) -> None:
    """The dev policy has [smartcard] enabled = false; no card certificate is signed."""
    for usage in CARD_USAGES:
        with pytest.raises(ZorgIdError) as refused:
            _issue(world, usage, _csr(_rsa_key()))
        assert refused.value.code == Code.ZID_1204
        assert "does not issue smartcard certificates" in str(refused.value)
    with world.engine.connect() as conn:
        assert conn.execute(sa.select(certificates.c.id)).all() == []


def test_a_policy_asking_for_a_key_type_it_does_not_allow_is_refused() -> None:
    with pytest.raises(PolicyError) as refused:
        load_policy(ENABLED.replace('key_types = ["rsa-2048"]', 'key_types = ["rsa-1024"]', 1))
    assert refused.value.path == "smartcard.authentication.key_types[0]"
    text = ENABLED.replace(
        '[smartcard.encryption]\nkey_types = ["rsa-2048"]',
        '[smartcard.encryption]\nkey_types = ["ec-p256"]',
    )
    with pytest.raises(PolicyError, match="keyEncipherment needs RSA") as refused:
        load_policy(text)
    assert refused.value.path == "smartcard.encryption.key_types[0]"


def test_the_smartcard_section_is_strict_and_in_the_digest() -> None:
    enabled, disabled = load_policy(ENABLED), load_policy(DEFAULT_POLICY_PATH)
    assert enabled.smartcard.enabled and not disabled.smartcard.enabled
    assert enabled.digest != disabled.digest
    assert b'"smartcard"' in enabled.canonical
    with pytest.raises(PolicyError) as refused:
        load_policy(ENABLED.replace("card_type = ", "card_typ = ", 1))
    assert refused.value.path.startswith("smartcard.card_typ")
    with pytest.raises(PolicyError) as refused:
        load_policy(ENABLED.replace('card_type = "N"', 'card_type = "Z"', 1))
    assert refused.value.path == "smartcard.card_type"
    without = DEFAULT_POLICY_PATH.read_text(encoding="utf-8").split("\n# The ZORG-ID smartcard")[0]
    assert not load_policy(without).smartcard.enabled
