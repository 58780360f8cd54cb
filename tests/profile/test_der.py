"""The hand-spliced TBSCertificate is byte for byte the one ``build_tbs`` makes.

``issuer.profile.der.build_tbs_der`` is what the issuance cycle signs; the
``CertificateBuilder`` form of the profile is the reference. Every variation
the profile allows (title or none, diacritics, maximal lengths, EC P-256/P-384
and RSA subscriber keys, SHA-384, an RSA issuing CA, notAfter past 2049,
serials of every length) must give the same bytes, and the same refusals.
"""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from issuer.keys import PublicKey
from issuer.lint import SignatureInvalid, build_and_lint, lint_sign
from issuer.lint.lintkey import lint_key_for, sign_tbs_der
from issuer.profile import ProfileError, build_tbs, signature_hash
from issuer.profile.attributes import VerifiedAttributes
from issuer.profile.der import build_tbs_der, tbs_template
from issuer.uzi_vocabulary import AgbCode, RoleCode, Ura, UziNumber
from policies import Policy, load_policy
from policies.reader import DEFAULT_POLICY_PATH
from tests.profile.certs import NOW, attributes, make_ca

_P256 = ec.generate_private_key(ec.SECP256R1()).public_key()
_P384 = ec.generate_private_key(ec.SECP384R1()).public_key()
_RSA = rsa.generate_private_key(65537, 2048).public_key()

VARIANTS: list[tuple[str, VerifiedAttributes]] = [
    ("title", attributes()),
    ("no-title", attributes(title=None)),
    (
        "n-card",
        attributes(card_type="N", role=RoleCode("00.000"), title=None, organization="Ōost"),
    ),
    (
        "diacritics",
        attributes(
            given_name="Zoë Anaïs Ëlise",
            surname="van der Heijden-d'Ancona",
            common_name="Zoë Anaïs van der Heijden",
            organization="Huisartsenpraktijk De Ëik & Zn. 中文",
        ),
    ),
    (
        "multibyte-long-form",
        attributes(
            given_name="Ë" * 64,
            surname="é" * 60,
            common_name="Ë" * 32,
            title="T" * 64,
            organization="Ö" * 64,
        ),
    ),
    # 118 and 119 octets: the last RDN in short form and the first in long form
    ("rdn-short-form-edge", attributes(given_name="é" * 59, surname="é" * 59 + "a")),
    (
        "longest",
        VerifiedAttributes(
            uzi_number=UziNumber("999999999"),
            card_type="Z",
            subscriber_number=Ura("99999999"),
            role=RoleCode("99.999"),
            agb_code=AgbCode("99999999"),
            given_name="G" * 64,
            surname="S" * 64,
            common_name="C" * 64,
            title="T" * 64,
            organization="O" * 64,
        ),
    ),
]


def _reference(
    attrs: VerifiedAttributes,
    key: PublicKey,
    serial: int,
    policy: Policy,
    ca: x509.Certificate,
    now: dt.datetime,
) -> bytes:
    return lint_sign(
        build_tbs(attrs, key, serial, policy, ca, now), policy, ca
    ).tbs_certificate_bytes


@pytest.mark.parametrize(("label", "attrs"), VARIANTS, ids=[v[0] for v in VARIANTS])
@pytest.mark.parametrize("key", [_P256, _P384, _RSA], ids=["p256", "p384", "rsa"])
def test_same_bytes_as_the_builder(
    label: str, attrs: VerifiedAttributes, key: PublicKey, ca: x509.Certificate
) -> None:
    text = DEFAULT_POLICY_PATH.read_text(encoding="utf-8")
    policy = load_policy(
        text.replace('allowed = ["ec-p256", "ec-p384"]', 'allowed = ["ec-p256", "ec-p384", "rsa"]')
    )
    for serial in (1, 0x7F, 0x80, 0xFF, 0x1234_5678_9ABC_DEF0_1122, 2**159 - 1):
        assert build_tbs_der(attrs, key, serial, policy, ca, NOW) == _reference(
            attrs, key, serial, policy, ca, NOW
        ), (label, serial)


def test_same_bytes_with_sha384_and_after_2049(ca: x509.Certificate) -> None:
    text = DEFAULT_POLICY_PATH.read_text(encoding="utf-8")
    policy = load_policy(text.replace('signature_hash = "sha256"', 'signature_hash = "sha384"'))
    assert build_tbs_der(attributes(), _P256, 5, policy, ca, NOW) == _reference(
        attributes(), _P256, 5, policy, ca, NOW
    )
    late = NOW.replace(year=2049, month=12, day=1)
    late_ca, _ = make_ca(not_before=late - dt.timedelta(days=30), not_after=late.replace(year=2060))
    assert build_tbs_der(attributes(), _P256, 5, policy, late_ca, late) == _reference(
        attributes(), _P256, 5, policy, late_ca, late
    )
    assert b"\x18\x0f2050" in build_tbs_der(attributes(), _P256, 5, policy, late_ca, late)


def test_same_bytes_with_an_rsa_issuing_ca(policy: Policy) -> None:
    ca_key = rsa.generate_private_key(65537, 2048)
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "RSA Test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(ca_key.public_key())
        .serial_number(1)
        .not_valid_before(NOW - dt.timedelta(days=1))
        .not_valid_after(NOW + dt.timedelta(days=900))
        .sign(ca_key, hashes.SHA256())
    )
    assert build_tbs_der(attributes(), _P256, 9, policy, ca, NOW) == _reference(
        attributes(), _P256, 9, policy, ca, NOW
    )
    tbs, _linted = build_and_lint(attributes(), _P256, 9, policy, ca, NOW)
    signed = tbs.sign(ca_key, hashes.SHA256())
    tbs.verify(signed, ca.public_key(), hashes.SHA256())
    signed.verify_directly_issued_by(ca)


@pytest.mark.parametrize(
    ("change", "what"),
    [
        ({"serial": 0}, "serial"),
        ({"serial": 2**159}, "serial"),
        ({"attrs": attributes(card_type="N", role=RoleCode("00.000"), title=None)}, "card type"),
        ({"now": NOW + dt.timedelta(days=5 * 365)}, "validity"),
    ],
)
def test_same_refusals_as_the_builder(
    change: dict[str, object], what: str, ca: x509.Certificate
) -> None:
    text = DEFAULT_POLICY_PATH.read_text(encoding="utf-8")
    policy = load_policy(text.replace('card_types = ["Z", "N"]', 'card_types = ["Z"]'))
    args: dict[str, object] = {"attrs": attributes(), "serial": 3, "now": NOW}
    args.update(change)
    call = (args["attrs"], _P256, args["serial"], policy, ca, args["now"])
    with pytest.raises(ProfileError) as reference:
        build_tbs(*call)  # type: ignore[arg-type]
    with pytest.raises(ProfileError) as spliced:
        build_tbs_der(*call)  # type: ignore[arg-type]
    assert str(spliced.value) == str(reference.value)
    assert reference.value.what.startswith(what)


def test_hsm_sign_refuses_a_key_of_another_type(policy: Policy, ca: x509.Certificate) -> None:
    """The outer and inner signature algorithms must agree (RFC 5280 §4.1.1.2)."""
    tbs, _ = build_and_lint(attributes(), _P256, 11, policy, ca, NOW)
    with pytest.raises(ValueError, match="signature algorithm"):
        tbs.sign(rsa.generate_private_key(65537, 2048), hashes.SHA256())
    with pytest.raises(ValueError, match="signature algorithm"):
        tbs.sign(ec.generate_private_key(ec.SECP256R1()), hashes.SHA384())


def test_signed_certificate_carries_the_linted_tbs(policy: Policy, ca_pair: tuple) -> None:  # type: ignore[type-arg]
    ca, ca_key = ca_pair
    tbs, linted = build_and_lint(attributes(), _P256, 12, policy, ca, NOW)
    signed = tbs.sign(ca_key, signature_hash(policy))
    assert signed.tbs_certificate_bytes == tbs.tbs_der == linted.tbs_certificate_bytes
    signed.verify_directly_issued_by(ca)
    key = lint_key_for(ca.public_key())
    algorithm_id = tbs_template(policy, ca).signature_algorithm
    other_tbs = build_tbs_der(attributes(surname="Anders"), _P256, 12, policy, ca, NOW)
    tbs.verify(signed, ca.public_key(), signature_hash(policy))
    # Another TBS, signed by the issuing CA's own key: not the linted bytes.
    other = sign_tbs_der(other_tbs, ca_key, signature_hash(policy), algorithm_id)
    with pytest.raises(SignatureInvalid, match="does not verify"):
        tbs.verify(x509.load_der_x509_certificate(other), ca.public_key(), signature_hash(policy))
    # The linted TBS, signed by another key (the lint key): not the issuing CA's signature.
    with pytest.raises(SignatureInvalid, match="does not verify"):
        tbs.verify(linted, ca.public_key(), signature_hash(policy))
    assert key is not ca_key


def test_assembled_certificates_verify_over_the_linted_bytes(
    policy: Policy, ca_pair: tuple
) -> None:  # type: ignore[type-arg]
    """An assembled certificate holds the bytes each key signed (equal to what
    cryptography re-encodes); the HSM signature is verified over the linted bytes,
    so a certificate over a different TBS (another subject, another serial) is
    refused however it was parsed."""
    from issuer.lint.lintkey import load_assembled

    ca, ca_key = ca_pair
    tbs, linted = build_and_lint(attributes(), _P256, 13, policy, ca, NOW)
    signed = tbs.sign(ca_key, signature_hash(policy))
    assert linted.tbs_certificate_bytes == tbs.tbs_der
    assert signed.tbs_certificate_bytes == tbs.tbs_der
    tbs.verify(signed, ca.public_key(), signature_hash(policy))
    # Parsed elsewhere: the same TBS.
    plain = x509.load_der_x509_certificate(signed.public_bytes(serialization.Encoding.DER))
    assert plain.tbs_certificate_bytes == tbs.tbs_der
    tbs.verify(plain, ca.public_key(), signature_hash(policy))
    algorithm_id = tbs_template(policy, ca).signature_algorithm
    for other_tbs in (
        build_tbs_der(attributes(surname="Anders"), _P256, 13, policy, ca, NOW),
        build_tbs_der(attributes(), _P256, 14, policy, ca, NOW),
    ):
        other = load_assembled(
            sign_tbs_der(other_tbs, ca_key, signature_hash(policy), algorithm_id), other_tbs
        )
        with pytest.raises(SignatureInvalid):
            tbs.verify(other, ca.public_key(), signature_hash(policy))
        # The DER must hold the TBS it is said to hold.
        with pytest.raises(ValueError, match="does not hold"):
            load_assembled(signed.public_bytes(serialization.Encoding.DER), other_tbs)
