"""Test certificate makers for the profile and lint tests.

Every broken certificate starts from a good one made by the profile and
changes exactly one thing: either through ``cryptography``'s builder (when it
lets us) or by editing the TBSCertificate with asn1crypto and re-signing it
(for what ``cryptography`` rightly refuses to build, such as a zero serial).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from asn1crypto import x509 as ax509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from issuer.keys import PublicKey
from issuer.lint import Expected, lint_key_for, lint_sign
from issuer.profile import VerifiedAttributes, build_tbs
from issuer.uzi_vocabulary import AgbCode, RoleCode, Ura, UziNumber
from policies import Policy

NOW = dt.datetime(2026, 11, 28, 12, 0, 0, tzinfo=dt.UTC)


def make_ca(
    *,
    not_before: dt.datetime = NOW - dt.timedelta(days=30),
    not_after: dt.datetime = NOW + dt.timedelta(days=5 * 365),
    curve: ec.EllipticCurve | None = None,
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """A software issuing CA (the HSM path is tested where the HSM layer lives)."""
    key = ec.generate_private_key(curve or ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "NL"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "ZORG-ID test"),
            x509.NameAttribute(NameOID.COMMON_NAME, "ZORG-ID Test Issuing CA"),
        ]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def attributes(**changes: object) -> VerifiedAttributes:
    values: dict[str, object] = {
        "uzi_number": UziNumber("900016528"),
        "card_type": "Z",
        "subscriber_number": Ura("90000382"),
        "role": RoleCode("01.015"),
        "agb_code": AgbCode("00000000"),
        "given_name": "Jan Willem",
        "surname": "van der Berg",
        "common_name": "Jan Willem van der Berg",
        "title": "dr.",
        "organization": "Huisartsenpraktijk Ëlst",
    }
    values.update(changes)
    return VerifiedAttributes(**values)  # type: ignore[arg-type]


@dataclass(frozen=True, kw_only=True)
class Made:
    """A lint-signed certificate and what it was meant to say."""

    cert: x509.Certificate
    expected: Expected
    builder: x509.CertificateBuilder

    @property
    def der(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.DER)


def make_good(
    policy: Policy,
    ca: x509.Certificate,
    *,
    attrs: VerifiedAttributes | None = None,
    key: PublicKey | None = None,
    serial: int = 0x1234_5678_9ABC_DEF0_1122,
    now: dt.datetime = NOW,
) -> Made:
    attrs = attrs or attributes()
    key = key or ec.generate_private_key(ec.SECP256R1()).public_key()
    builder = build_tbs(attrs, key, serial, policy, ca, now)
    cert = lint_sign(builder, policy, ca)
    expected = Expected(
        attrs=attrs, public_key=key, serial=serial, policy=policy, issuer_cert=ca, now=now
    )
    return Made(cert=cert, expected=expected, builder=builder)


def rebuild(
    made: Made,
    policy: Policy,
    ca: x509.Certificate,
    *,
    subject: x509.Name | None = None,
    issuer: x509.Name | None = None,
    key: PublicKey | None = None,
    serial: int | None = None,
    not_before: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
    extensions: list[x509.Extension[x509.ExtensionType]] | None = None,
) -> x509.Certificate:
    """The good certificate with the given fields replaced, lint-signed."""
    b = made.builder
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject or b._subject_name)  # type: ignore[arg-type]
        .issuer_name(issuer or b._issuer_name)  # type: ignore[arg-type]
        .public_key(key or b._public_key)  # type: ignore[arg-type]
        .serial_number(serial or b._serial_number)  # type: ignore[arg-type]
        .not_valid_before(not_before or b._not_valid_before)  # type: ignore[arg-type]
        .not_valid_after(not_after or b._not_valid_after)  # type: ignore[arg-type]
    )
    for ext in b._extensions if extensions is None else extensions:
        builder = builder.add_extension(ext.value, ext.critical)
    return lint_sign(builder, policy, ca)


def resign(
    cert: x509.Certificate, ca: x509.Certificate, mutate: Callable[[ax509.TbsCertificate], None]
) -> bytes:
    """Edit the TBSCertificate with asn1crypto and sign it with the lint key (DER)."""
    tbs = ax509.TbsCertificate.load(cert.tbs_certificate_bytes)
    mutate(tbs)
    tbs_der = tbs.dump(force=True)
    key = lint_key_for(ca.public_key())
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    signature = key.sign(tbs_der, ec.ECDSA(hashes.SHA256()))
    outer = ax509.Certificate(
        {
            "tbs_certificate": ax509.TbsCertificate.load(tbs_der),
            "signature_algorithm": {"algorithm": "sha256_ecdsa"},
            "signature_value": signature,
        }
    )
    der: bytes = outer.dump()
    return der


def subject_with(
    made: Made, oid: x509.ObjectIdentifier, attribute: x509.NameAttribute[str]
) -> x509.Name:
    """The good subject with the attribute of type ``oid`` replaced."""
    rdns = []
    for rdn in made.cert.subject.rdns:
        (attr,) = list(rdn)
        rdns.append(x509.RelativeDistinguishedName([attribute if attr.oid == oid else attr]))
    return x509.Name(rdns)
