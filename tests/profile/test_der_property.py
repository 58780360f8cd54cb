"""Property: the one TBS encoder says what ``cryptography``'s builder says, pkilint-clean.

``issuer.profile.der.build_tbs_der`` is the only encoder of what the issuance
cycle signs; the per-certificate lint asks the profile's rules of the inputs
and does not encode again (``issuer.lint.inputs``). So its bytes are checked
here over generated inputs against ``build_tbs`` (``CertificateBuilder``):
names drawing on every character class the profile carries (ASCII, Latin-1
and Latin Extended diacritics, Greek, CJK, characters outside the BMP,
combining marks) at their length edges, Z and N cards with and without a
title, EC P-256/P-384 and RSA keys under EC and RSA issuing CAs, serials of
every length, and validity on both sides of the UTCTime/GeneralizedTime
switch of 2050, for every usage (the mobile ID and each certificate of a
smartcard, the card's with RSA-2048 keys among theirs). Every generated input
passes the input rules and the certificate checks; pkilint lints them too.
The examples are derandomized, so a run repeats.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from issuer.keys import PublicKey
from issuer.lint import Severity, at_or_above, fast_lint, lint_inputs, pkilint_cert
from issuer.lint.cert import Expected, ProfileShape, profile_shape
from issuer.lint.lintkey import lint_key_for
from issuer.profile import VerifiedAttributes, build_tbs, signature_hash
from issuer.profile.attributes import MAX_COMMON_NAME
from issuer.profile.builder import for_usage
from issuer.profile.der import TbsTemplate, build_tbs_der, tbs_template
from issuer.profile.usage import CARD_USAGES, CertificateUsage
from issuer.uzi_vocabulary import AgbCode, CardType, RoleCode, Ura, UziNumber
from policies import DEFAULT_POLICY_PATH, Policy, load_policy

CA_FROM = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
CA_UNTIL = dt.datetime(2100, 1, 1, tzinfo=dt.UTC)
SWITCH = dt.datetime(2050, 1, 1, tzinfo=dt.UTC)
"""RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from here."""


def _policy(signature_hash: str) -> Policy:
    text = DEFAULT_POLICY_PATH.read_text(encoding="utf-8")
    text = text.replace(
        'allowed = ["ec-p256", "ec-p384"]', 'allowed = ["ec-p256", "ec-p384", "rsa"]'
    )
    text = text.replace('signature_hash = "sha256"', f'signature_hash = "{signature_hash}"')
    policy = load_policy(text)
    assert "rsa" in policy.keys.allowed and policy.profile.signature_hash == signature_hash
    return policy


def _card_policy(signature_hash: str) -> Policy:
    """The policy with [smartcard] on; authentication and signature take EC keys too."""
    text = DEFAULT_POLICY_PATH.read_text(encoding="utf-8")
    text = text.replace(
        'allowed = ["ec-p256", "ec-p384"]', 'allowed = ["ec-p256", "ec-p384", "rsa"]'
    )
    text = text.replace('signature_hash = "sha256"', f'signature_hash = "{signature_hash}"')
    text = text.replace("enabled = false", "enabled = true")
    text = text.replace(
        'key_types = ["rsa-2048"] # as on UZI-pas cards',
        'key_types = ["rsa-2048", "rsa-3072", "ec-p256", "ec-p384"]',
    )
    text = text.replace(
        '[smartcard.signature]\nkey_types = ["rsa-2048"]',
        '[smartcard.signature]\nkey_types = ["rsa-2048", "ec-p256"]',
    )
    text = text.replace(
        '[smartcard.encryption]\nkey_types = ["rsa-2048"]',
        '[smartcard.encryption]\nkey_types = ["rsa-2048", "rsa-3072"]',
    )
    policy = load_policy(text)
    assert policy.smartcard.enabled and policy.smartcard.signature is not None
    return policy


def _ca(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey, name: str) -> x509.Certificate:
    subject = x509.Name(
        [
            x509.NameAttribute(x509.NameOID.COUNTRY_NAME, "NL"),
            x509.NameAttribute(x509.NameOID.COMMON_NAME, name),
        ]
    )
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(CA_FROM)
        .not_valid_after(CA_UNTIL)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )


@dataclasses.dataclass(frozen=True)
class Profile:
    """One (policy, issuing CA) with what the issuance cycle makes of it once."""

    policy: Policy = dataclasses.field(repr=False)
    ca: x509.Certificate = dataclasses.field(repr=False)
    template: TbsTemplate = dataclasses.field(repr=False)
    shape: ProfileShape = dataclasses.field(repr=False)
    usage: CertificateUsage = CertificateUsage.MOBILE_ID


def _profile(
    policy: Policy, ca: x509.Certificate, usage: CertificateUsage = CertificateUsage.MOBILE_ID
) -> Profile:
    template = tbs_template(policy, ca, usage)
    return Profile(policy, ca, template, profile_shape(policy, ca, template, usage), usage)


CAS = [
    ("sha256", _ca(ec.generate_private_key(ec.SECP256R1()), "P-256 CA")),
    ("sha384", _ca(ec.generate_private_key(ec.SECP384R1()), "P-384 CA")),
    ("sha256", _ca(rsa.generate_private_key(65537, 2048), "RSA CA")),
]
PROFILES = [_profile(_policy(digest), ca) for digest, ca in CAS]
CARD_PROFILES = [
    _profile(_card_policy(digest), ca, usage) for digest, ca in CAS for usage in CARD_USAGES
]
KEYS: list[PublicKey] = [
    ec.generate_private_key(ec.SECP256R1()).public_key(),
    ec.generate_private_key(ec.SECP384R1()).public_key(),
    rsa.generate_private_key(65537, 2048).public_key(),
    rsa.generate_private_key(65537, 3072).public_key(),
]
CARD_KEYS: dict[CertificateUsage, list[PublicKey]] = {
    CertificateUsage.CARD_AUTHENTICATION: KEYS,
    CertificateUsage.CARD_SIGNATURE: [KEYS[0], KEYS[2]],
    CertificateUsage.CARD_ENCRYPTION: KEYS[2:],
}
"""The keys each card certificate of :func:`_card_policy` allows (RSA-2048 in every one)."""

# Every character class a name on a card can hold; no controls (C0, C1), no surrogates.
LETTER = st.one_of(
    st.characters(min_codepoint=0x21, max_codepoint=0x7E),  # printable ASCII
    st.characters(min_codepoint=0xA1, max_codepoint=0x17F),  # Latin-1, Latin Extended-A
    st.characters(min_codepoint=0x391, max_codepoint=0x3C9),  # Greek
    st.characters(min_codepoint=0x4E00, max_codepoint=0x4EFF),  # CJK (3 UTF-8 octets)
    st.characters(min_codepoint=0x1F600, max_codepoint=0x1F64F),  # outside the BMP (4 octets)
)
INNER = st.one_of(LETTER, st.sampled_from([" ", "\u0301", "-", "'"]))  # space, combining mark


@st.composite
def _name(draw: Callable[..., Any], max_chars: int = 64, max_octets: int | None = None) -> str:
    """1..max_chars characters, the edges (1, max) drawn as often as the middle."""
    length = draw(st.one_of(st.just(1), st.just(max_chars), st.integers(1, max_chars)))
    if length == 1:
        text = draw(LETTER)
    else:
        middle = draw(st.lists(INNER, min_size=length - 2, max_size=length - 2))
        text = draw(LETTER) + "".join(middle) + draw(LETTER)
    if max_octets is not None:
        while len(text.encode("utf-8")) > max_octets or text != text.strip():
            text = text[:-1].rstrip() or draw(LETTER)
    return text


def _digits(n: int) -> st.SearchStrategy[str]:
    return st.integers(0, 10**n - 1).map(lambda v: f"{v:0{n}d}")


@st.composite
def _attributes(draw: Callable[..., Any]) -> VerifiedAttributes:
    card = draw(st.sampled_from([CardType.ZORGVERLENER, CardType.MEDEWERKER_OP_NAAM]))
    if card == CardType.ZORGVERLENER:
        role = f"{draw(st.integers(1, 99)):02d}.{draw(_digits(3))}"
        title = draw(st.one_of(st.none(), _name()))
    else:
        role, title = "00.000", None
    return VerifiedAttributes(
        uzi_number=UziNumber(draw(_digits(9))),
        card_type=card,
        subscriber_number=Ura(draw(_digits(8))),
        role=RoleCode(role),
        agb_code=AgbCode(draw(_digits(8))),
        given_name=draw(_name()),
        surname=draw(_name()),
        common_name=draw(_name(max_octets=MAX_COMMON_NAME)),
        title=title,
        organization=draw(_name()),
    )


SERIALS = st.one_of(
    st.integers(1, 2**159 - 1),
    st.sampled_from([1, 0x7F, 0x80, 0xFF, 0x100, 2**63, 2**64, 2**151, 2**152 - 1, 2**159 - 1]),
)


@st.composite
def _now(draw: Callable[..., Any], policy: Policy) -> dt.datetime:
    """An issuing time inside the CA's life, often one second either side of an
    edge where notBefore or notAfter changes from UTCTime to GeneralizedTime."""
    backdate = dt.timedelta(seconds=policy.profile.backdate_seconds)
    days = dt.timedelta(days=policy.profile.validity_days)
    second = dt.timedelta(seconds=1)
    edges = [SWITCH + backdate - second, SWITCH + backdate, SWITCH - days - second, SWITCH - days]
    whole = draw(
        st.one_of(
            st.sampled_from(edges),
            st.datetimes(
                min_value=(CA_FROM + backdate + second).replace(tzinfo=None),
                max_value=(CA_UNTIL - days - second).replace(tzinfo=None),
                timezones=st.just(dt.UTC),
            ),
        )
    )
    return whole.replace(microsecond=draw(st.integers(0, 999_999)))


@st.composite
def _case(draw: Callable[..., Any]) -> tuple[Profile, Expected]:
    profile = draw(st.sampled_from(PROFILES + CARD_PROFILES))
    keys = CARD_KEYS[profile.usage] if profile.usage.is_card else KEYS
    # What the encoder builds from (for a card: laid out as N, [smartcard]'s validity).
    attrs, policy = for_usage(draw(_attributes()), profile.policy, profile.usage)
    now = draw(_now(policy))
    # The UZI-pas date that caps notAfter (issue 18): none, sooner or later than the policy's.
    card_seconds = draw(
        st.one_of(st.none(), st.integers(1, (policy.profile.validity_days + 30) * 86400))
    )
    expected = Expected(
        attrs=attrs,
        public_key=draw(st.sampled_from(keys)),
        serial=draw(SERIALS),
        policy=policy,
        issuer_cert=profile.ca,
        now=now,
        card_not_after=None
        if card_seconds is None
        else now.replace(microsecond=0) + dt.timedelta(seconds=card_seconds),
        usage=profile.usage,
    )
    return profile, expected


def _reference(profile: Profile, exp: Expected) -> x509.Certificate:
    """The certificate ``CertificateBuilder`` makes of the same inputs (lint-key signed)."""
    builder = build_tbs(
        exp.attrs,
        exp.public_key,
        exp.serial,
        exp.policy,
        profile.ca,
        exp.now,
        exp.card_not_after,
        exp.usage,
    )
    return builder.sign(lint_key_for(profile.ca.public_key()), signature_hash(exp.policy))


@settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(_case())
def test_the_encoder_is_the_builder_and_the_inputs_pass_the_rules(
    case: tuple[Profile, Expected],
) -> None:
    profile, exp = case
    der = build_tbs_der(
        exp.attrs,
        exp.public_key,
        exp.serial,
        exp.policy,
        profile.ca,
        exp.now,
        profile.template,
        exp.card_not_after,
        exp.usage,
    )
    reference = _reference(profile, exp)
    assert der == reference.tbs_certificate_bytes
    assert lint_inputs(exp, profile.shape) == []
    assert fast_lint(reference, exp, profile.shape) == []


@settings(
    max_examples=80,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(_case())
def test_a_sample_of_the_encoded_certificates_is_pkilint_clean(
    case: tuple[Profile, Expected],
) -> None:
    profile, exp = case
    reference = _reference(profile, exp)
    der = reference.public_bytes(serialization.Encoding.DER)
    assert at_or_above(pkilint_cert(der), Severity.WARNING) == []


@pytest.mark.parametrize("profile", PROFILES, ids=["p256-ca", "p384-ca", "rsa-ca"])
def test_every_profile_of_the_property_lints_clean(profile: Profile) -> None:
    """The (policy, CA) pairs generated above are themselves valid profiles."""
    from issuer.lint import lint_profile

    assert lint_profile(profile.policy, profile.ca, dt.datetime(2030, 1, 1, tzinfo=dt.UTC)) == []


@pytest.mark.parametrize(
    "profile",
    CARD_PROFILES,
    ids=[f"{ca}-{u.value}" for ca in ("p256", "p384", "rsa") for u in CARD_USAGES],
)
def test_every_card_profile_encodes_an_rsa_2048_key_as_the_builder(profile: Profile) -> None:
    """Each card certificate, each CA, an RSA-2048 key (as on UZI-pas cards): the same bytes,
    no finding; and the policy with [smartcard] passes the activation lint for all usages."""
    attrs, policy = for_usage(_sample_holder(), profile.policy, profile.usage)
    now = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
    exp = Expected(
        attrs=attrs,
        public_key=KEYS[2],
        serial=0x1234,
        policy=policy,
        issuer_cert=profile.ca,
        now=now,
        usage=profile.usage,
    )
    der = build_tbs_der(
        attrs, KEYS[2], 0x1234, policy, profile.ca, now, profile.template, usage=profile.usage
    )
    reference = _reference(profile, exp)
    assert der == reference.tbs_certificate_bytes
    assert lint_inputs(exp, profile.shape) == []
    assert fast_lint(reference, exp, profile.shape) == []
    assert (
        at_or_above(
            pkilint_cert(reference.public_bytes(serialization.Encoding.DER)), Severity.WARNING
        )
        == []
    )


def _sample_holder() -> VerifiedAttributes:
    return VerifiedAttributes(
        uzi_number=UziNumber("900016528"),
        card_type=CardType.ZORGVERLENER,
        subscriber_number=Ura("90000382"),
        role=RoleCode("01.015"),
        agb_code=AgbCode("01234567"),
        given_name="Zoë",
        surname="van der Heijden",
        common_name="Zoë van der Heijden",
        title="dr.",
        organization="Huisartsenpraktijk De Ëik",
    )


def test_the_card_policy_of_the_property_lints_clean() -> None:
    """lint_profile lints every card certificate the policy carries, with each key type."""
    from issuer.lint import lint_profile

    for digest, ca in CAS:
        assert lint_profile(_card_policy(digest), ca, dt.datetime(2030, 1, 1, tzinfo=dt.UTC)) == []
