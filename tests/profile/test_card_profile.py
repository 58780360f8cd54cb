"""The smartcard's certificate profile before the cycle: for_usage, the card lint rules.

The end-to-end checks (the real cycle, pkilint, openssl, the UZI reader) are in
tests/issuance/test_card_certificates.py; the byte identity of the one encoder
for every usage in tests/profile/test_der_property.py.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from issuer.lint.cert import Expected, profile_shape
from issuer.lint.inputs import CARD_RULES, lint_inputs
from issuer.profile import ProfileError, VerifiedAttributes, build_tbs
from issuer.profile.builder import for_usage
from issuer.profile.der import build_tbs_der
from issuer.profile.usage import CARD_USAGES, CertificateUsage
from issuer.uzi_vocabulary import AgbCode, CardType, RoleCode, Ura, UziNumber
from policies import DEFAULT_POLICY_PATH, Policy, load_policy
from tests.profile.certs import NOW

TEXT = DEFAULT_POLICY_PATH.read_text(encoding="utf-8")
ENABLED = load_policy(TEXT.replace("enabled = false", "enabled = true"))
AUTH_ONLY = load_policy(
    TEXT.replace("enabled = false", "enabled = true").split("\n[smartcard.signature]")[0]
)
HOLDER = VerifiedAttributes(
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
RSA_2048 = rsa.generate_private_key(65537, 2048).public_key()


def _expected(
    policy: Policy, usage: CertificateUsage, key: object, ca: x509.Certificate
) -> Expected:
    attrs, built = for_usage(HOLDER, policy, usage)
    return Expected(
        attrs=attrs,
        public_key=key,  # type: ignore[arg-type]
        serial=0x42,
        policy=built,
        issuer_cert=ca,
        now=NOW,
        usage=usage,
    )


def test_the_mobile_id_is_the_inputs_themselves(policy: Policy) -> None:
    attrs, built = for_usage(HOLDER, policy, CertificateUsage.MOBILE_ID)
    assert attrs is HOLDER and built is policy


@pytest.mark.parametrize("usage", CARD_USAGES, ids=lambda u: u.value)
def test_a_card_is_laid_out_as_n_with_the_smartcard_validity(usage: CertificateUsage) -> None:
    attrs, built = for_usage(HOLDER, ENABLED, usage)
    assert (attrs.card_type, attrs.role, attrs.title) == ("N", "00.000", None)
    assert (attrs.uzi_number, attrs.subscriber_number, attrs.agb_code) == (
        HOLDER.uzi_number,
        HOLDER.subscriber_number,
        HOLDER.agb_code,
    )
    assert built.profile.validity_days == ENABLED.smartcard.validity_days
    assert built.digest == ENABLED.digest  # the same document, read for this certificate
    assert for_usage(attrs, built, usage) == (attrs, built)  # idempotent


def test_a_disabled_or_absent_smartcard_refuses_to_build(
    policy: Policy, ca: x509.Certificate
) -> None:
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    for usage in CARD_USAGES:
        with pytest.raises(ProfileError, match="does not issue smartcard certificates"):
            build_tbs(HOLDER, key, 1, policy, ca, NOW, usage=usage)
        with pytest.raises(ProfileError, match="does not issue smartcard certificates"):
            build_tbs_der(HOLDER, key, 1, policy, ca, NOW, usage=usage)


def test_a_certificate_the_card_does_not_carry_is_refused(ca: x509.Certificate) -> None:
    assert AUTH_ONLY.smartcard.signature is None and AUTH_ONLY.smartcard.encryption is None
    build_tbs(HOLDER, RSA_2048, 1, AUTH_ONLY, ca, NOW, usage=CertificateUsage.CARD_AUTHENTICATION)
    for usage in (CertificateUsage.CARD_SIGNATURE, CertificateUsage.CARD_ENCRYPTION):
        with pytest.raises(ProfileError, match=rf"no \[smartcard.{usage.card_certificate}\]"):
            build_tbs(HOLDER, RSA_2048, 1, AUTH_ONLY, ca, NOW, usage=usage)


@pytest.mark.parametrize("usage", CARD_USAGES, ids=lambda u: u.value)
def test_good_card_inputs_pass_every_rule(usage: CertificateUsage, ca: x509.Certificate) -> None:
    shape = profile_shape(ENABLED, ca, usage=usage)
    assert lint_inputs(_expected(ENABLED, usage, RSA_2048, ca), shape) == []


def test_each_card_rule_cites_its_rule(ca: x509.Certificate) -> None:
    usage = CertificateUsage.CARD_AUTHENTICATION
    shape = profile_shape(ENABLED, ca, usage=usage)
    p256 = ec.generate_private_key(ec.SECP256R1()).public_key()
    findings = lint_inputs(_expected(ENABLED, usage, p256, ca), shape)
    assert [f.code for f in findings] == ["zorgid.card_key_type"]
    assert "smartcard.authentication.key_types" in findings[0].message
    unlaid = dataclasses.replace(_expected(ENABLED, usage, RSA_2048, ca), attrs=HOLDER)
    assert "zorgid.card_other_name_layout" in [f.code for f in lint_inputs(unlaid, shape)]
    off = dataclasses.replace(
        _expected(ENABLED, usage, RSA_2048, ca),
        policy=dataclasses.replace(
            ENABLED, smartcard=dataclasses.replace(ENABLED.smartcard, enabled=False)
        ),
    )
    assert "zorgid.card_usage_issued" in [f.code for f in lint_inputs(off, shape)]
    assert all(f.rule for f in lint_inputs(off, shape))


def test_the_card_rules_say_nothing_of_a_mobile_id(policy: Policy, ca: x509.Certificate) -> None:
    exp = Expected(
        attrs=HOLDER,
        public_key=ec.generate_private_key(ec.SECP256R1()).public_key(),
        serial=7,
        policy=policy,
        issuer_cert=ca,
        now=NOW,
    )
    shape = profile_shape(policy, ca)
    assert [rule(exp, shape) for rule in CARD_RULES] == [None, None, None]


def test_the_card_validity_is_the_smartcard_s(ca: x509.Certificate) -> None:
    usage = CertificateUsage.CARD_SIGNATURE
    cert = build_tbs(HOLDER, RSA_2048, 1, ENABLED, ca, NOW, usage=usage)
    days = ENABLED.smartcard.validity_days
    # The builder keeps naive UTC.
    assert cert._not_valid_after == NOW.replace(tzinfo=None) + dt.timedelta(days=days)


def test_the_public_url_rebases_the_card_cps_pointers_too() -> None:
    from policies.urls import at_public_url

    rebased = at_public_url(ENABLED, "http://zorgid.example:8080")
    for name in ("authentication", "signature", "encryption"):
        card = getattr(rebased.smartcard, name)
        assert [cp.cps_uri for cp in card.certificate_policies] == [
            "http://zorgid.example:8080/cps"
        ]
    assert at_public_url(AUTH_ONLY, "http://zorgid.example:8080").smartcard.signature is None


def test_a_card_certificate_under_any_policy_is_a_proposal_problem() -> None:
    from policies.sanity import problems

    text = TEXT.replace('oid = "1.3.6.1.4.1.32473.528.1.2.12"', 'oid = "2.5.29.32.0"')
    paths = [p.path for p in problems(load_policy(text))]
    assert paths == ["smartcard.signature.certificate_policies[0].oid"]
    assert problems(ENABLED) == []
