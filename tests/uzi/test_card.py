"""Reading the UZI otherName and subject: every field against its form."""

from __future__ import annotations

import pytest
from asn1crypto import core as asn1_core
from cryptography import x509

from issuer.uzi import errors
from issuer.uzi.card import CertKind, parse_card, parse_uzi_name
from issuer.uzi.errors import UziError
from issuer.uzi_vocabulary import CardType
from testkit.uzi_world import CA_OIDS, Kind
from tests.uzi.conftest import World


def test_profile_example_parses() -> None:
    name = parse_uzi_name("2.16.528.1.1007.99.217-1-900016528-Z-90000382-01.000-00000000")
    assert name.ca_oid == "2.16.528.1.1007.99.217"
    assert name.uzi_number == "900016528"
    assert name.card_type is CardType.ZORGVERLENER
    assert name.subscriber_number == "90000382"
    assert name.role == "01.000"
    assert name.agb_code == "00000000"


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("2.16.528.1.1007.99.217-2-900016528-Z-90000382-01.000-00000000", "version"),
        ("2.16.528.1.1007.99.217-1-90001652-Z-90000382-01.000-00000000", "UZI number"),
        ("2.16.528.1.1007.99.217-1-900016528-X-90000382-01.000-00000000", "card type"),
        ("2.16.528.1.1007.99.217-1-900016528-Z-900003821-01.000-00000000", "subscriber"),
        ("2.16.528.1.1007.99.217-1-900016528-Z-90000382-01.000-0000000", "AGB"),
        ("2.16.528.1.1007.99.217-1-900016528-Z-90000382-00.000-00000000", "profession"),
        ("2.16.528.1.1007.99.218-1-900016528-N-90000382-01.015-00000000", "'00.000'"),
        ("2.16.528.1.1007.99.217-1-900016528-z-90000382-01.000-00000000", "expected"),
        ("2.16.528.1.1007.99.217-1-900016528-Z-90000382-1.000-00000000", "expected"),
        ("urn:2.16.528-1-900016528-Z-90000382-01.000-00000000", "expected"),
        ("2.16.528.1.1007.99.217-1-900016528-Z-90000382-01.000-00000000-extra", "expected"),
        ("", "expected"),
    ],
)
def test_malformed_uzi_name_is_refused(text: str, complaint: str) -> None:
    with pytest.raises(UziError) as info:
        parse_uzi_name(text)
    assert info.value.code == errors.BAD_UZI_NAME
    assert complaint in str(info.value)


def test_other_name_must_be_a_der_ia5string(uzi: World) -> None:
    world = uzi.world
    good = world.card_cert(
        card_type="Z",
        kind=Kind.AUTHENTICATION,
        key=world.broken_keys["expired"],
        uzi_number="900000500",
        ura="90000382",
        role="01.015",
    )
    card = parse_card(good)
    assert card.kind is CertKind.AUTHENTICATION
    assert card.ca_oid == CA_OIDS["Z"]
    # Same string, but as UTF8String: refused (the profile says IA5String).
    text = f"{CA_OIDS['Z']}-1-900000500-Z-90000382-01.015-00000000"
    san = x509.SubjectAlternativeName(
        [x509.OtherName(x509.ObjectIdentifier("2.5.5.5"), bytes(asn1_core.UTF8String(text).dump()))]
    )
    bad = _with_san(world, good, san)
    with pytest.raises(UziError) as info:
        parse_card(bad)
    assert info.value.code == errors.BAD_UZI_NAME and "IA5String" in str(info.value)
    twice = x509.SubjectAlternativeName(
        [x509.OtherName(x509.ObjectIdentifier("2.5.5.5"), bytes(asn1_core.IA5String(text).dump()))]
        * 2
    )
    with pytest.raises(UziError) as info:
        parse_card(_with_san(world, good, twice))
    assert "exactly one" in str(info.value)


def _with_san(
    world: object, cert: x509.Certificate, san: x509.SubjectAlternativeName
) -> x509.Certificate:
    from cryptography.hazmat.primitives import hashes

    builder = (
        x509.CertificateBuilder()
        .subject_name(cert.subject)
        .issuer_name(cert.issuer)
        .public_key(cert.public_key())
        .serial_number(cert.serial_number)
        .not_valid_before(cert.not_valid_before_utc)
        .not_valid_after(cert.not_valid_after_utc)
    )
    for ext in cert.extensions:
        if isinstance(ext.value, x509.SubjectAlternativeName):
            builder = builder.add_extension(san, critical=False)
        else:
            builder = builder.add_extension(ext.value, critical=ext.critical)
    return builder.sign(world.cas["Z"].key, hashes.SHA256())  # type: ignore[attr-defined]


def test_m_card_has_job_title_as_cn_and_no_names(uzi: World) -> None:
    card = uzi.world.issue_card("M")
    parsed = parse_card(card.auth)
    assert parsed.identity.card_type is CardType.MEDEWERKER_NIET_OP_NAAM
    assert parsed.identity.given_name is None and parsed.identity.surname is None
    assert parsed.identity.common_name == "Baliemedewerker"
    assert parse_card(card.signature).kind is CertKind.SIGNATURE
    assert parse_card(card.encryption).kind is CertKind.ENCRYPTION
