"""Fast lint and pkilint agree on valid certificates; the profile lints clean;
the linted TBS is exactly what the (SoftHSM) CA key signs."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from hsm import Hsm, KeySpec
from issuer.lint import (
    LintError,
    Severity,
    SignatureInvalid,
    at_or_above,
    build_and_lint,
    fast_lint,
    lint_key_for,
    lint_profile,
    lint_sign,
    pkilint_cert,
)
from issuer.profile import VerifiedAttributes, build_tbs, draw_serial, signature_hash
from issuer.profile.der import build_tbs_der
from policies import Policy, load_policy
from policies.reader import DEFAULT_POLICY_PATH
from tests.profile.certs import NOW, attributes, make_ca, make_good
from tests.softhsm import SoftHsmDir

GIVEN = ["Jan", "Zoë Anaïs", "Ëlise-Marie", "Łukasz", "Søren Åge", "Ĳsbrand", "G" * 64]
SURNAMES = ["van der Berg", "de Vries-van 't Hek", "Öztürk", "O'Neill", "Müller", "S" * 64]
ORGS = ["Huisartsenpraktijk Ëlst", "Apotheek 't Hoekje & Co.", "Ziekenhuis Σ", "O" * 64]


def _batch() -> list[VerifiedAttributes]:
    out = []
    for i, (given, surname, org) in enumerate(itertools.product(GIVEN, SURNAMES, ORGS)):
        if i % 3:
            continue
        common = f"{given} {surname}".encode()[:64].decode(errors="ignore").strip()
        if i % 2:
            out.append(
                attributes(
                    card_type="N",
                    role="00.000",
                    title=None,
                    given_name=given,
                    surname=surname,
                    common_name=common,
                    organization=org,
                    uzi_number=f"{900000000 + i:09d}",
                )
            )
        else:
            out.append(
                attributes(
                    given_name=given,
                    surname=surname,
                    common_name=common,
                    organization=org,
                    title=["dr.", "prof. dr. ir.", "T" * 64][i % 3 - 1] if i % 4 else None,
                    role=["01.015", "17.075", "30.000", "99.999"][i % 4],
                    agb_code=f"{i:08d}",
                )
            )
    return out


def test_fast_lint_and_pkilint_agree_on_varied_valid_certificates(
    policy: Policy, ca: x509.Certificate
) -> None:
    batch = _batch()
    assert len(batch) >= 40
    curves = itertools.cycle([ec.SECP256R1(), ec.SECP384R1()])
    for attrs in batch:
        key = ec.generate_private_key(next(curves)).public_key()
        made = make_good(policy, ca, attrs=attrs, key=key, serial=draw_serial())
        assert fast_lint(made.cert, made.expected) == [], attrs
        assert at_or_above(pkilint_cert(made.der), Severity.WARNING) == [], attrs


def test_profile_lints_clean(policy: Policy, ca: x509.Certificate) -> None:
    assert lint_profile(policy, ca, NOW) == []


def test_profile_with_bad_url_fails_profile_lint(ca: x509.Certificate) -> None:
    text = DEFAULT_POLICY_PATH.read_text(encoding="utf-8")
    bad = load_policy(
        text.replace('ocsp_url = "http://127.0.0.1:8080/ocsp"', 'ocsp_url = "http://ocsp/"')
    )
    codes = {f.code for f in lint_profile(bad, ca, NOW)}
    assert "pkix.invalid_uri_syntax" in codes


def test_p384_issuing_ca_profile_lints_clean(policy: Policy) -> None:
    ca, _ = make_ca(curve=ec.SECP384R1())
    text = DEFAULT_POLICY_PATH.read_text(encoding="utf-8")
    sha384 = load_policy(text.replace('signature_hash = "sha256"', 'signature_hash = "sha384"'))
    assert lint_profile(sha384, ca, NOW) == []


def test_rsa_issuing_ca_uses_an_rsa_lint_key(policy: Policy) -> None:
    now = dt.datetime.now(dt.UTC)
    ca_key = rsa.generate_private_key(65537, 2048)
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "RSA Test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(ca_key.public_key())
        .serial_number(1)
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=900))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    assert isinstance(lint_key_for(ca.public_key()), rsa.RSAPrivateKey)
    assert lint_key_for(ca.public_key()) is lint_key_for(ca.public_key())
    assert lint_profile(policy, ca, now) == []
    phone = ec.generate_private_key(ec.SECP256R1()).public_key()
    builder = build_tbs(attributes(), phone, draw_serial(), policy, ca, now)
    linted = lint_sign(builder, policy, ca)
    assert (
        linted.tbs_certificate_bytes == builder.sign(ca_key, hashes.SHA256()).tbs_certificate_bytes
    )


@pytest.fixture(scope="module")
def hsm_ca(softhsm_dir: SoftHsmDir) -> tuple[x509.Certificate, object]:
    """An issuing CA whose key lives on a real SoftHSM token."""
    token = softhsm_dir.init_token("profile-lint")
    hsm = Hsm.open(token.uri)
    key = hsm.generate_key("issuing-ca", KeySpec.EC_P256)
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "ZORG-ID HSM Test CA")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(draw_serial())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=3 * 365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def test_hsm_signature_covers_exactly_the_linted_tbs(
    policy: Policy, hsm_ca: tuple[x509.Certificate, object]
) -> None:
    ca, hsm_key = hsm_ca
    now = dt.datetime.now(dt.UTC)
    phone = ec.generate_private_key(ec.SECP256R1()).public_key()
    builder, linted = build_and_lint(attributes(), phone, draw_serial(), policy, ca, now)
    signed = builder.sign(hsm_key, signature_hash(policy))  # type: ignore[arg-type]
    builder.verify(signed, ca.public_key(), signature_hash(policy))
    signed.verify_directly_issued_by(ca)
    der = signed.public_bytes(serialization.Encoding.DER)
    assert at_or_above(pkilint_cert(der), Severity.WARNING) == []
    other = build_tbs(attributes(surname="Anders"), phone, draw_serial(), policy, ca, now)
    with pytest.raises(SignatureInvalid):  # the HSM's key, over bytes that were not linted
        builder.verify(other.sign(hsm_key, hashes.SHA256()), ca.public_key(), hashes.SHA256())  # type: ignore[arg-type]
    with pytest.raises(SignatureInvalid):  # the linted bytes, signed by another key
        builder.verify(linted, ca.public_key(), signature_hash(policy))


def test_build_and_lint_refuses_when_the_builder_drifts(
    policy: Policy, ca: x509.Certificate, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A builder that does not say what was intended never reaches the HSM."""
    import issuer.lint.presign as presign

    real = build_tbs_der

    def drifting(attrs, key, serial, *rest):  # type: ignore[no-untyped-def]
        return real(attrs, key, serial + 1, *rest)

    monkeypatch.setattr(presign, "build_tbs_der", drifting)
    phone = ec.generate_private_key(ec.SECP256R1()).public_key()
    with pytest.raises(LintError, match="serial_matches_intent"):
        build_and_lint(attributes(), phone, draw_serial(), policy, ca, NOW)


def test_lint_profile_refuses_when_the_issuing_path_drifts(
    policy: Policy, ca: x509.Certificate, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The TBS the cycle splices must be the one pkilint passed at activation."""
    import issuer.lint.profile as profile_lint

    assert lint_profile(policy, ca, NOW) == []

    def drifting(*args):  # type: ignore[no-untyped-def]
        return build_tbs_der(*args) + b"\x00"

    monkeypatch.setattr(profile_lint, "build_tbs_der", drifting)
    codes = {f.code for f in lint_profile(policy, ca, NOW)}
    assert "zorgid.tbs_builder_drift" in codes
