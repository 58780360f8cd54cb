"""Linting a whole profile (policy version) with pkilint, at activation.

Builds sample certificates that stretch the varying fields (longest names,
diacritics, prefixes, with and without a title, both card types the policy
accepts, the longest SAN string), signs them with the lint key and runs both
pkilint and the fast lint on each. A profile with any finding at WARNING or
above must not be activated. Each sample's TBS must also be byte-equal to
what the issuance cycle builds (:func:`issuer.profile.der.build_tbs_der`), so
what pkilint passed here is what gets issued.
"""

from __future__ import annotations

import datetime as dt

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from issuer.keys import PublicKey
from issuer.lint.cert import Expected
from issuer.lint.fast import fast_lint
from issuer.lint.findings import Finding, Severity
from issuer.lint.lintkey import lint_sign
from issuer.lint.pkix import at_or_above, pkilint_cert
from issuer.profile import VerifiedAttributes, build_tbs, draw_serial
from issuer.profile.builder import for_usage
from issuer.profile.der import build_tbs_der
from issuer.profile.usage import CARD_USAGES, CertificateUsage, card_certificate_policy
from issuer.uzi_vocabulary import AgbCode, CardType, RoleCode, Ura, UziNumber
from policies import Policy


def sample_attributes(policy: Policy) -> list[VerifiedAttributes]:
    """Attribute sets at the edges of what the profile must carry."""
    samples: list[VerifiedAttributes] = []
    if "Z" in policy.uzi.card_types:
        samples.append(
            VerifiedAttributes(
                uzi_number=UziNumber("900016528"),
                card_type=CardType.ZORGVERLENER,
                subscriber_number=Ura("90000382"),
                role=RoleCode("01.015"),
                agb_code=AgbCode("01234567"),
                given_name="Zoë Anaïs Ëlise",
                surname="van der Heijden-d'Ancona",
                common_name="Zoë Anaïs Ëlise van der Heijden-d'Ancona",
                title="dr.",
                organization="Huisartsenpraktijk De Ëik & Zn.",
            )
        )
        samples.append(
            VerifiedAttributes(
                uzi_number=UziNumber("999999999"),
                card_type=CardType.ZORGVERLENER,
                subscriber_number=Ura("99999999"),
                role=RoleCode("99.999"),
                agb_code=AgbCode("99999999"),
                given_name="G" * 64,
                surname="S" * 64,
                common_name="C" * 64,
                title="T" * 64,
                organization="O" * 64,
            )
        )
    if "N" in policy.uzi.card_types:
        samples.append(
            VerifiedAttributes(
                uzi_number=UziNumber("900000002"),
                card_type=CardType.MEDEWERKER_OP_NAAM,
                subscriber_number=Ura("90000382"),
                role=RoleCode("00.000"),
                agb_code=AgbCode("00000000"),
                given_name="Jan",
                surname="Jansen",
                common_name="Jan Jansen",
                title=None,
                organization="Ziekenhuis Ōost",
            )
        )
    return samples


def _sample_keys(policy: Policy) -> list[PublicKey]:
    keys: list[PublicKey] = []
    if "ec-p256" in policy.keys.allowed:
        keys.append(ec.generate_private_key(ec.SECP256R1()).public_key())
    if "ec-p384" in policy.keys.allowed:
        keys.append(ec.generate_private_key(ec.SECP384R1()).public_key())
    if "rsa" in policy.keys.allowed:
        keys.append(rsa.generate_private_key(65537, policy.keys.rsa_min_bits).public_key())
    return keys


def _card_keys(key_types: tuple[str, ...]) -> list[PublicKey]:
    """One key of each type a card certificate allows (``rsa-<bits>``, ``ec-p256/384``)."""
    keys: list[PublicKey] = []
    for key_type in key_types:
        if key_type.startswith("rsa-"):
            keys.append(rsa.generate_private_key(65537, int(key_type[4:])).public_key())
        else:
            curve = ec.SECP256R1() if key_type == "ec-p256" else ec.SECP384R1()
            keys.append(ec.generate_private_key(curve).public_key())
    return keys


def lint_profile(
    policy: Policy, issuer_cert: x509.Certificate, now: dt.datetime | None = None
) -> list[Finding]:
    """pkilint + fast lint on sample certificates; findings at WARNING or above.

    An empty list means the profile may be activated with this issuing CA.
    ``now`` defaults to the present; pass the activation time in tests. The
    mobile ID's samples, and with ``[smartcard]`` enabled those of every card
    certificate the policy carries, each with every key type it allows.
    """
    when = now or dt.datetime.now(dt.UTC)
    findings = _lint_usage(
        policy, issuer_cert, when, CertificateUsage.MOBILE_ID, _sample_keys(policy)
    )
    for usage in CARD_USAGES:
        try:
            card = card_certificate_policy(policy, usage)
        except LookupError:
            continue
        findings += _lint_usage(policy, issuer_cert, when, usage, _card_keys(card.key_types))
    return findings


def _lint_usage(
    policy: Policy,
    issuer_cert: x509.Certificate,
    when: dt.datetime,
    usage: CertificateUsage,
    keys: list[PublicKey],
) -> list[Finding]:
    """The samples of one usage: byte-equal on both paths, pkilint- and fast-lint-clean."""
    findings: list[Finding] = []
    for index, attrs in enumerate(sample_attributes(policy)):
        public_key = keys[index % len(keys)]
        if not policy.uzi.accepts_role(attrs.role):
            continue
        serial = draw_serial()
        cert = lint_sign(
            build_tbs(attrs, public_key, serial, policy, issuer_cert, when, usage=usage),
            policy,
            issuer_cert,
        )
        # Positional (template, card_not_after, usage): the drift test wraps it as *args.
        spliced = build_tbs_der(
            attrs, public_key, serial, policy, issuer_cert, when, None, None, usage
        )
        if spliced != cert.tbs_certificate_bytes:
            findings.append(
                Finding(
                    code="zorgid.tbs_builder_drift",
                    severity=Severity.FATAL,
                    message=f"{usage.value} sample {index}: the issuing path's TBS DER differs "
                    "from build_tbs's; the certificates issued would not be the ones linted here",
                    rule="ARCHITECTURE §5 step 3 (issue what was linted)",
                )
            )
        from cryptography.hazmat.primitives import serialization

        der = cert.public_bytes(serialization.Encoding.DER)
        findings += at_or_above(pkilint_cert(der), Severity.WARNING)
        built_attrs, built_policy = for_usage(attrs, policy, usage)
        findings += fast_lint(
            cert,
            Expected(
                attrs=built_attrs,
                public_key=public_key,
                serial=serial,
                policy=built_policy,
                issuer_cert=issuer_cert,
                now=when,
                usage=usage,
            ),
        )
    return findings
