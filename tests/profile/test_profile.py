"""The mobile-ID certificate profile: layout, SAN encoding, validity, serials, CSRs."""

from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path

import pytest
from asn1crypto import x509 as ax509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID, NameOID

from issuer.keys import WeakKeyError
from issuer.profile import (
    CsrError,
    InvalidAttributesError,
    ProfileError,
    UziSanError,
    build_tbs,
    check_csr,
    draw_serial,
    parse_san_string,
    read_uzi_san,
)
from issuer.profile.attributes import has_control_characters
from policies import Policy, load_policy
from policies.reader import DEFAULT_POLICY_PATH
from tests.profile.certs import NOW, attributes, make_ca, make_good, rebuild


def _openssl(*args: str, stdin: bytes | None = None) -> bytes:
    return subprocess.run(["openssl", *args], input=stdin, capture_output=True, check=True).stdout


def test_subject_order_and_string_types(policy: Policy, ca: x509.Certificate) -> None:
    cert = make_good(policy, ca).cert
    tbs = ax509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))["tbs_certificate"]
    got = []
    for rdn in tbs["subject"].chosen:
        assert len(rdn) == 1
        atv = rdn[0]
        got.append((atv["type"].native, atv["value"].chosen.__class__.__name__))
    assert got == [
        ("country_name", "PrintableString"),
        ("organization_name", "UTF8String"),
        ("title", "UTF8String"),
        ("surname", "UTF8String"),
        ("given_name", "UTF8String"),
        ("serial_number", "PrintableString"),
        ("common_name", "UTF8String"),
    ]
    assert cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == (
        "Huisartsenpraktijk Ëlst"
    )


def test_no_title_for_a_card_without_one(policy: Policy, ca: x509.Certificate) -> None:
    cert = make_good(policy, ca, attrs=attributes(title=None)).cert
    assert cert.subject.get_attributes_for_oid(NameOID.TITLE) == []
    assert len(cert.subject.rdns) == 6


def test_san_is_one_othername_with_explicit_ia5string(policy: Policy, ca: x509.Certificate) -> None:
    """The wire bytes are ``OtherName{2.5.5.5, [0] EXPLICIT IA5String}`` as on a card."""
    cert = make_good(policy, ca).cert
    text = f"{policy.profile.ca_oid}-1-900016528-Z-90000382-01.015-00000000".encode()
    ext = cert.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME)
    assert not ext.critical
    ia5 = bytes([0x16, len(text)]) + text
    explicit = bytes([0xA0, len(ia5)]) + ia5
    other = bytes([0x06, 0x03, 0x55, 0x05, 0x05]) + explicit
    general = bytes([0xA0, len(other)]) + other
    assert ext.value.public_bytes() == bytes([0x30, len(general)]) + general
    # An independent decoder reads the same string.
    names = ax509.GeneralNames.load(ext.value.public_bytes())
    assert names[0].name == "other_name"
    assert names[0].chosen["type_id"].dotted == "2.5.5.5"
    assert names[0].chosen["value"].parsed.__class__.__name__ == "IA5String"
    assert names[0].chosen["value"].parsed.native == text.decode()
    # And so does openssl, the first real client.
    pem = cert.public_bytes(serialization.Encoding.PEM)
    assert (
        f"othername: 2.5.5.5::{text.decode()}"
        in _openssl("x509", "-noout", "-text", stdin=pem).decode()
    )


def test_extensions_and_criticality(policy: Policy, ca: x509.Certificate) -> None:
    cert = make_good(policy, ca).cert
    exts = {e.oid: e for e in cert.extensions}
    assert [e.oid for e in cert.extensions] == [
        ExtensionOID.BASIC_CONSTRAINTS,
        ExtensionOID.KEY_USAGE,
        ExtensionOID.EXTENDED_KEY_USAGE,
        ExtensionOID.SUBJECT_ALTERNATIVE_NAME,
        ExtensionOID.CERTIFICATE_POLICIES,
        ExtensionOID.AUTHORITY_INFORMATION_ACCESS,
        ExtensionOID.CRL_DISTRIBUTION_POINTS,
        ExtensionOID.SUBJECT_KEY_IDENTIFIER,
        ExtensionOID.AUTHORITY_KEY_IDENTIFIER,
    ]
    assert exts[ExtensionOID.BASIC_CONSTRAINTS].critical
    assert exts[ExtensionOID.BASIC_CONSTRAINTS].value.ca is False
    ku = exts[ExtensionOID.KEY_USAGE]
    assert ku.critical and ku.value.digital_signature and not ku.value.key_encipherment
    assert list(exts[ExtensionOID.EXTENDED_KEY_USAGE].value) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    ski = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert exts[ExtensionOID.AUTHORITY_KEY_IDENTIFIER].value.key_identifier == ski.digest
    text = _openssl(
        "x509", "-noout", "-text", stdin=cert.public_bytes(serialization.Encoding.PEM)
    ).decode()
    assert "OCSP - URI:http://127.0.0.1:8080/ocsp" in text
    assert "CA Issuers - URI:http://127.0.0.1:8080/ca/issuing-ca.cer" in text
    assert "URI:http://127.0.0.1:8080/crl/issuing-ca.crl" in text
    assert f"Policy: {policy.profile.certificate_policies[0].oid}" in text


def test_extra_ekus_from_policy(ca: x509.Certificate) -> None:
    text = DEFAULT_POLICY_PATH.read_text(encoding="utf-8")
    policy = load_policy(
        text.replace("extra_ekus = []", 'extra_ekus = ["1.3.6.1.4.1.311.10.3.12"]')
    )
    eku = make_good(policy, ca).cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert [o.dotted_string for o in eku.value] == ["1.3.6.1.5.5.7.3.2", "1.3.6.1.4.1.311.10.3.12"]


def test_chain_verifies_with_openssl(
    policy: Policy, ca_pair: tuple[x509.Certificate, ec.EllipticCurvePrivateKey], tmp_path: Path
) -> None:
    ca, ca_key = ca_pair
    made = make_good(policy, ca, now=dt.datetime.now(dt.UTC))
    cert = made.builder.sign(ca_key, hashes.SHA256())
    (tmp_path / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "leaf.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    out = _openssl(
        "verify", "-purpose", "sslclient", "-CAfile", str(tmp_path / "ca.pem"),
        str(tmp_path / "leaf.pem"),
    )  # fmt: skip
    assert out.decode().strip().endswith(": OK")


def test_validity_from_policy(policy: Policy, ca: x509.Certificate) -> None:
    cert = make_good(policy, ca, now=NOW.replace(microsecond=123456)).cert
    assert cert.not_valid_before_utc == NOW - dt.timedelta(seconds=policy.profile.backdate_seconds)
    assert cert.not_valid_after_utc == NOW + dt.timedelta(days=policy.profile.validity_days)


def test_validity_beyond_issuing_ca_is_refused(policy: Policy) -> None:
    short_ca, _ = make_ca(not_after=NOW + dt.timedelta(days=100))
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    with pytest.raises(ProfileError, match="notAfter"):
        build_tbs(attributes(), key, draw_serial(), policy, short_ca, NOW)


def test_the_card_caps_the_validity_never_lengthens_it(
    policy: Policy, ca: x509.Certificate
) -> None:
    """Issue 18: notAfter = min(policy, UZI-pas notAfter); an expired card is refused."""
    from issuer.profile import validity_window

    policy_end = NOW + dt.timedelta(days=policy.profile.validity_days)
    sooner = NOW + dt.timedelta(days=30, microseconds=5)
    assert validity_window(policy, ca, NOW, sooner)[1] == sooner.replace(microsecond=0)
    later = policy_end + dt.timedelta(days=30)
    assert validity_window(policy, ca, NOW, later)[1] == policy_end
    assert validity_window(policy, ca, NOW, None)[1] == policy_end
    for expired in (NOW, NOW - dt.timedelta(days=1)):
        with pytest.raises(ProfileError, match="UZI-pas validity") as info:
            validity_window(policy, ca, NOW, expired)
        assert info.value.what == "UZI-pas validity"
    # A card that ends before a short CA does lets the certificate be issued there.
    short_ca, _ = make_ca(not_after=NOW + dt.timedelta(days=100))
    assert validity_window(policy, short_ca, NOW, sooner)[1] == sooner.replace(microsecond=0)


def test_issuing_ca_not_yet_valid_is_refused(policy: Policy) -> None:
    future_ca, _ = make_ca(not_before=NOW + dt.timedelta(days=1))
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    with pytest.raises(ProfileError, match="issuing CA validity"):
        build_tbs(attributes(), key, draw_serial(), policy, future_ca, NOW)


def test_naive_clock_is_refused(policy: Policy, ca: x509.Certificate) -> None:
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    with pytest.raises(ProfileError, match="naive"):
        build_tbs(attributes(), key, draw_serial(), policy, ca, NOW.replace(tzinfo=None))


def test_card_type_and_role_must_be_accepted_by_policy(ca: x509.Certificate) -> None:
    text = DEFAULT_POLICY_PATH.read_text(encoding="utf-8")
    n_only = load_policy(text.replace('card_types = ["Z", "N"]', 'card_types = ["N"]'))
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    with pytest.raises(ProfileError, match="card type"):
        build_tbs(attributes(), key, draw_serial(), n_only, ca, NOW)
    doctors = load_policy(text.replace('roles = ["*"]', 'roles = ["01.*"]'))
    with pytest.raises(ProfileError, match="role"):
        build_tbs(attributes(role="17.075"), key, draw_serial(), doctors, ca, NOW)
    assert build_tbs(attributes(role="01.016"), key, draw_serial(), doctors, ca, NOW)


@pytest.mark.parametrize("serial", [0, -1, 2**159])
def test_out_of_range_serial_is_refused(serial: int, policy: Policy, ca: x509.Certificate) -> None:
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    with pytest.raises(ProfileError, match="serial"):
        build_tbs(attributes(), key, serial, policy, ca, NOW)


def test_draw_serial() -> None:
    serials = [draw_serial() for _ in range(4000)]
    assert len(set(serials)) == len(serials)
    assert all(0 < s < 2**159 for s in serials)
    assert all(len(x509_serial_der(s)) <= 20 for s in serials)
    # 159 random bits: the top bit is set in about half, >= 64 bits in all but ~2^-95.
    assert 1500 < sum(s >> 158 for s in serials) < 2500
    assert all(s.bit_length() > 64 for s in serials)


def x509_serial_der(serial: int) -> bytes:
    """The content octets of the DER INTEGER (two's complement, minimal)."""
    return serial.to_bytes((serial.bit_length() + 8) // 8, "big")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"uzi_number": "12345678"}, "uzi_number"),
        ({"uzi_number": "9000165280"}, "uzi_number"),
        ({"card_type": "M"}, "card_type"),
        ({"subscriber_number": "9000038"}, "subscriber_number"),
        ({"role": "1.015"}, "role"),
        ({"role": "00.000"}, "role"),
        ({"card_type": "N", "role": "01.015", "title": None}, "role"),
        ({"card_type": "N", "role": "00.000"}, "title"),
        ({"agb_code": "0000000A"}, "agb_code"),
        ({"given_name": ""}, "given_name"),
        ({"surname": " van der Berg"}, "surname"),
        ({"common_name": "C" * 65}, "common_name"),
        ({"common_name": "Ë" * 33}, "common_name"),
        ({"organization": "Praktijk\nZuid"}, "organization"),
    ],
)
def test_invalid_attributes_are_refused(changes: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidAttributesError) as caught:
        attributes(**changes)
    assert caught.value.field == field


@pytest.mark.parametrize(
    ("char", "control"),
    [
        ("\x00", True),
        ("\x1f", True),
        (" ", False),
        ("~", False),
        ("\x7f", True),
        ("\x85", True),
        ("\x9f", True),
        ("\xa0", False),
        ("Ë", False),
        ("\u2028", False),
    ],
)
def test_control_characters_are_c0_and_c1_only(char: str, control: bool) -> None:
    """The edges of U+0000-U+001F and U+007F-U+009F, anywhere in a name; and the
    attributes refuse exactly those."""
    assert has_control_characters(f"Zo{char}ë") is control
    if control:
        with pytest.raises(InvalidAttributesError) as caught:
            attributes(surname=f"van der{char}Heijden")
        assert caught.value.field == "surname"
    else:
        assert attributes(given_name=f"Zo{char}ë").given_name == f"Zo{char}ë"


# --- CSRs: proof of possession and the key; nothing else is copied ------------


def _openssl_csr(tmp_path: Path, *args: str) -> bytes:
    out = tmp_path / "req.pem"
    subprocess.run(
        ["openssl", "req", "-new", "-nodes", "-keyout", str(tmp_path / "k.pem"),
         "-out", str(out), *args],
        check=True, capture_output=True,
    )  # fmt: skip
    return out.read_bytes()


def test_csr_from_openssl_gives_only_its_key(
    policy: Policy, ca: x509.Certificate, tmp_path: Path
) -> None:
    pem = _openssl_csr(
        tmp_path,
        "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
        "-subj", "/C=XX/O=Evil Corp/CN=Mallory",
        "-addext", "subjectAltName=DNS:evil.example",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=keyCertSign",
    )  # fmt: skip
    key = check_csr(pem, policy)
    assert key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ) == x509.load_pem_x509_csr(pem).public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    made = make_good(policy, ca, key=key)
    der = made.der
    assert b"Mallory" not in der and b"Evil" not in der and b"evil.example" not in der
    assert made.cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    assert not made.cert.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign
    # DER input and str input work too.
    csr_der = x509.load_pem_x509_csr(pem).public_bytes(serialization.Encoding.DER)
    assert check_csr(csr_der, policy) == key
    assert check_csr(pem.decode(), policy) == key


def test_csr_with_bad_signature_is_refused(policy: Policy) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([]))
        .sign(key, hashes.SHA256())
        .public_bytes(serialization.Encoding.DER)
    )
    broken = bytearray(csr)
    broken[-5] ^= 0x01  # inside the signature's s value
    with pytest.raises(CsrError) as caught:
        check_csr(bytes(broken), policy)
    assert caught.value.reason in ("bad-signature", "malformed")


def test_csr_signed_with_sha1_is_refused(policy: Policy, tmp_path: Path) -> None:
    pem = _openssl_csr(
        tmp_path, "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-sha1", "-subj", "/CN=x"
    )
    with pytest.raises(CsrError) as caught:
        check_csr(pem, policy)
    assert caught.value.reason == "signature-hash"


def test_csr_with_point_off_the_curve_is_refused(policy: Policy) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([]))
        .sign(key, hashes.SHA256())
        .public_bytes(serialization.Encoding.DER)
    )
    point = key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    moved = point[:-1] + bytes([point[-1] ^ 0x01])  # y changed: not on the curve
    with pytest.raises(CsrError) as caught:
        check_csr(csr.replace(point, moved), policy)
    assert caught.value.reason in ("unsupported-key", "malformed")


def test_rsa_csr_follows_policy(tmp_path: Path) -> None:
    pem = _openssl_csr(tmp_path, "-newkey", "rsa:2048", "-subj", "/CN=x")
    text = DEFAULT_POLICY_PATH.read_text(encoding="utf-8")
    with pytest.raises(WeakKeyError):
        check_csr(pem, load_policy(text))
    rsa_policy = load_policy(
        text.replace('allowed = ["ec-p256", "ec-p384"]', 'allowed = ["ec-p256", "rsa"]')
    )
    assert isinstance(check_csr(pem, rsa_policy), rsa.RSAPublicKey)


@pytest.mark.parametrize("data", [b"", b"garbage", b"\x30\x03\x02\x01\x00", "-----BEGIN x"])
def test_malformed_csr_is_refused(data: bytes | str, policy: Policy) -> None:
    with pytest.raises(CsrError) as caught:
        check_csr(data, policy)
    assert caught.value.reason == "malformed"


def test_oversized_csr_is_refused_unread(policy: Policy) -> None:
    with pytest.raises(CsrError) as caught:
        check_csr(b"\x30" + b"\x00" * 20000, policy)
    assert caught.value.reason == "too-large"


# --- reading the identity back ------------------------------------------------


def test_read_uzi_san_round_trip(policy: Policy, ca: x509.Certificate) -> None:
    cert = make_good(policy, ca, attrs=attributes(agb_code="01234567")).cert
    san = read_uzi_san(cert)
    assert san.ca_oid == policy.profile.ca_oid
    assert (san.uzi_number, san.card_type, san.subscriber_number) == ("900016528", "Z", "90000382")
    assert (san.role, san.agb_code) == ("01.015", "01234567")


def test_read_uzi_san_of_the_documented_example() -> None:
    text = "2.16.528.1.1007.99.217-1-900016528-Z-90000382-01.000-00000000"
    san = parse_san_string(text)
    assert san.ca_oid == "2.16.528.1.1007.99.217" and san.role == "01.000"


@pytest.mark.parametrize(
    "text",
    [
        "2.16.528.1.1007.99.217-2-900016528-Z-90000382-01.000-00000000",
        "2.16.528.1.1007.99.217-1-90001652-Z-90000382-01.000-00000000",
        "2.16.528.1.1007.99.217-1-900016528-X-90000382-01.000-00000000",
        "2.16.528.1.1007.99.217-1-900016528-Z-90000382-01.000",
        "",
    ],
)
def test_malformed_san_strings_are_refused(text: str) -> None:
    with pytest.raises(UziSanError):
        parse_san_string(text)


def test_certificate_without_uzi_san_is_refused(ca: x509.Certificate) -> None:
    with pytest.raises(UziSanError, match="subjectAltName"):
        read_uzi_san(ca)


def test_double_wrapped_san_value_is_refused(policy: Policy, ca: x509.Certificate) -> None:
    from asn1crypto import core as acore

    made = make_good(policy, ca)
    text = made.expected.attrs.san_string(policy.profile.ca_oid)
    wrapped = acore.IA5String(text, explicit=0).dump()  # [0] { IA5String }: one tag too many
    extensions = [
        x509.Extension(
            e.oid,
            e.critical,
            x509.SubjectAlternativeName(
                [x509.OtherName(x509.ObjectIdentifier("2.5.5.5"), wrapped)]
            ),
        )
        if e.oid == ExtensionOID.SUBJECT_ALTERNATIVE_NAME
        else e
        for e in made.builder._extensions
    ]
    with pytest.raises(UziSanError, match="IA5String"):
        read_uzi_san(rebuild(made, policy, ca, extensions=extensions))


def test_ca_validity_is_each_certificates_own() -> None:
    """ca_validity answers the certificate's own notBefore/notAfter, per certificate object
    (two CAs alive at once never share an answer)."""
    from issuer.profile.builder import ca_validity

    first = make_ca()[0]
    second = make_ca(not_after=NOW + dt.timedelta(days=30))[0]
    for _ in range(2):
        assert ca_validity(first) == (first.not_valid_before_utc, first.not_valid_after_utc)
        assert ca_validity(second) == (second.not_valid_before_utc, second.not_valid_after_utc)
    assert ca_validity(first) != ca_validity(second)


def test_validity_window_kept_per_policy_ca_and_time(policy: Policy) -> None:
    """A kept window is only ever the one of the same policy, CA and instant; a refusal is
    refused again."""
    import dataclasses

    from issuer.profile import validity_window

    ca = make_ca()[0]
    other_ca = make_ca(not_after=NOW + dt.timedelta(days=3))[0]
    longer = dataclasses.replace(
        policy,
        profile=dataclasses.replace(policy.profile, validity_days=policy.profile.validity_days + 1),
    )
    for _ in range(2):
        first = validity_window(policy, ca, NOW)
        assert first[1] - first[0] == dt.timedelta(
            days=policy.profile.validity_days, seconds=policy.profile.backdate_seconds
        )
        assert validity_window(longer, ca, NOW)[1] == first[1] + dt.timedelta(days=1)
        assert validity_window(policy, ca, NOW + dt.timedelta(seconds=1))[1] == first[1] + (
            dt.timedelta(seconds=1)
        )
        with pytest.raises(ProfileError, match="validity"):
            validity_window(policy, other_ca, NOW)
        with pytest.raises(ProfileError, match="naive"):
            validity_window(policy, ca, NOW.replace(tzinfo=None))
