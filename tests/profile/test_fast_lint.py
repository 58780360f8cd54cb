"""One broken certificate per fast-lint check, named after the condition it breaks.

Each case starts from a good certificate made by the profile and changes one
thing; the check of that name must report it. Cases that break an RFC 5280
rule (not only the profile) must be reported by pkilint too, so the fast lint
is never weaker than the reference linter on the varying fields.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable

import pytest
from asn1crypto import core as acore
from asn1crypto import x509 as ax509
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import (
    AuthorityInformationAccessOID,
    ExtendedKeyUsageOID,
    ExtensionOID,
    NameOID,
)

from issuer.lint import (
    CHECKS,
    Severity,
    at_or_above,
    fast_lint,
    lint_encoded,
    lint_inputs,
    pkilint_cert,
)
from issuer.lint.cert import profile_shape
from issuer.lint.inputs import ANSWERED_BY, INPUT_RULES
from issuer.profile import VerifiedAttributes, encode_uzi_othername
from policies import Policy
from tests.profile.certs import Made, attributes, make_good, rebuild, resign, subject_with

UTF8 = _ASN1Type.UTF8String
PRINTABLE = _ASN1Type.PrintableString

Breaker = Callable[[Made, Policy, x509.Certificate], x509.Certificate | bytes]


def _ext(made: Made, oid: x509.ObjectIdentifier) -> x509.Extension[x509.ExtensionType]:
    return next(e for e in made.builder._extensions if e.oid == oid)


def _replace_ext(
    made: Made, oid: x509.ObjectIdentifier, value: x509.ExtensionType, critical: bool | None = None
) -> list[x509.Extension[x509.ExtensionType]]:
    out = []
    for e in made.builder._extensions:
        if e.oid == oid:
            out.append(x509.Extension(oid, e.critical if critical is None else critical, value))
        else:
            out.append(e)
    return out


def _set_serial(value: int) -> Callable[[ax509.TbsCertificate], None]:
    def mutate(tbs: ax509.TbsCertificate) -> None:
        tbs["serial_number"] = value

    return mutate


def _san(value: bytes) -> x509.SubjectAlternativeName:
    return x509.SubjectAlternativeName([x509.OtherName(x509.ObjectIdentifier("2.5.5.5"), value)])


def _duplicate_eku(tbs: ax509.TbsCertificate) -> None:
    extensions = tbs["extensions"]
    eku = next(e for e in extensions if e["extn_id"].native == "extended_key_usage")
    tbs["extensions"] = ax509.Extensions(
        [ax509.Extension.load(e.dump()) for e in extensions] + [ax509.Extension.load(eku.dump())]
    )


def _serial_number_at_sign(tbs: ax509.TbsCertificate) -> None:
    rdns = []
    for rdn in tbs["subject"].chosen:
        atvs = []
        for atv in rdn:
            if atv["type"].native == "serial_number":
                bad = acore.PrintableString()
                bad.contents = b"90001652@"
                atv = ax509.NameTypeAndValue({"type": "serial_number", "value": bad})
            atvs.append(ax509.NameTypeAndValue.load(atv.dump()))
        rdns.append(ax509.RelativeDistinguishedName(atvs))
    tbs["subject"] = ax509.Name(name="", value=ax509.RDNSequence(rdns))


def _san_plus_dns(made: Made) -> x509.SubjectAlternativeName:
    san = _ext(made, ExtensionOID.SUBJECT_ALTERNATIVE_NAME).value
    assert isinstance(san, x509.SubjectAlternativeName)
    return x509.SubjectAlternativeName([*san, x509.DNSName("example.nl")])


def _generalized_not_after(tbs: ax509.TbsCertificate) -> None:
    validity = tbs["validity"]
    tbs["validity"] = ax509.Validity(
        {
            "not_before": ax509.Time.load(validity["not_before"].dump()),
            "not_after": ax509.Time(
                name="general_time", value=acore.GeneralizedTime(validity["not_after"].native)
            ),
        }
    )


def _swap_validity(tbs: ax509.TbsCertificate) -> None:
    validity = tbs["validity"]
    tbs["validity"] = ax509.Validity(
        {
            "not_before": ax509.Time.load(validity["not_after"].dump()),
            "not_after": ax509.Time.load(validity["not_before"].dump()),
        }
    )


def _version_v2(tbs: ax509.TbsCertificate) -> None:
    tbs["version"] = "v2"


OTHER_KEY = ec.generate_private_key(ec.SECP256R1()).public_key()

# (check name, condition, breaker); the condition names the test certificate.
CASES: list[tuple[str, str, Breaker]] = [
    ("serial_positive", "serial_zero", lambda m, p, c: resign(m.cert, c, _set_serial(0))),
    ("serial_positive", "serial_negative", lambda m, p, c: resign(m.cert, c, _set_serial(-5))),
    (
        "serial_max_20_octets",
        "serial_21_octets",
        lambda m, p, c: resign(m.cert, c, _set_serial(2**160 + 7)),
    ),
    ("serial_matches_intent", "serial_not_recorded", lambda m, p, c: rebuild(m, p, c, serial=42)),
    ("version_v3", "version_v2", lambda m, p, c: resign(m.cert, c, _version_v2)),
    (
        "issuer_matches_ca",
        "issuer_other_name",
        lambda m, p, c: rebuild(
            m, p, c, issuer=x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Other CA")])
        ),
    ),
    (
        "validity_order",
        "not_before_after_not_after",
        lambda m, p, c: resign(m.cert, c, _swap_validity),
    ),
    (
        "validity_time_encoding",
        "not_after_generalizedtime_before_2050",
        lambda m, p, c: resign(m.cert, c, _generalized_not_after),
    ),
    (
        "validity_within_issuer",
        "not_after_beyond_ca",
        lambda m, p, c: rebuild(m, p, c, not_after=c.not_valid_after_utc + dt.timedelta(days=1)),
    ),
    (
        "validity_matches_policy",
        "validity_one_day_short",
        lambda m, p, c: rebuild(
            m, p, c, not_after=m.cert.not_valid_after_utc - dt.timedelta(days=1)
        ),
    ),
    (
        "subject_one_attribute_per_rdn",
        "subject_multi_valued_rdn",
        lambda m, p, c: rebuild(
            m,
            p,
            c,
            subject=x509.Name(
                [
                    x509.RelativeDistinguishedName(
                        list(m.cert.subject.rdns[0]) + list(m.cert.subject.rdns[1])
                    ),
                    *list(m.cert.subject.rdns[2:]),
                ]
            ),
        ),
    ),
    (
        "subject_rdn_order",
        "subject_gn_before_sn",
        lambda m, p, c: rebuild(
            m,
            p,
            c,
            subject=x509.Name(
                [
                    *list(m.cert.subject.rdns[:3]),
                    m.cert.subject.rdns[4],
                    m.cert.subject.rdns[3],
                    *list(m.cert.subject.rdns[5:]),
                ]
            ),
        ),
    ),
    (
        "subject_string_types",
        "subject_o_printablestring",
        lambda m, p, c: rebuild(
            m,
            p,
            c,
            subject=subject_with(
                m,
                NameOID.ORGANIZATION_NAME,
                x509.NameAttribute(
                    NameOID.ORGANIZATION_NAME, "Huisartsenpraktijk", _type=PRINTABLE
                ),
            ),
        ),
    ),
    (
        "subject_string_types",
        "subject_serialnumber_utf8string",
        lambda m, p, c: rebuild(
            m,
            p,
            c,
            subject=subject_with(
                m,
                NameOID.SERIAL_NUMBER,
                x509.NameAttribute(NameOID.SERIAL_NUMBER, "900016528", _type=UTF8),
            ),
        ),
    ),
    (
        "subject_printable_charset",
        "subject_serialnumber_at_sign",
        lambda m, p, c: resign(m.cert, c, _serial_number_at_sign),
    ),
    (
        "subject_no_empty_values",
        "subject_empty_surname",
        lambda m, p, c: rebuild(
            m,
            p,
            c,
            subject=subject_with(
                m, NameOID.SURNAME, x509.NameAttribute(NameOID.SURNAME, "", _type=UTF8)
            ),
        ),
    ),
    (
        "subject_lengths",
        "subject_organization_65_chars",
        lambda m, p, c: rebuild(
            m,
            p,
            c,
            subject=subject_with(
                m,
                NameOID.ORGANIZATION_NAME,
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "O" * 65, _type=UTF8),
            ),
        ),
    ),
    (
        "subject_lengths",
        "subject_surname_65_chars",
        lambda m, p, c: rebuild(
            m,
            p,
            c,
            subject=subject_with(
                m, NameOID.SURNAME, x509.NameAttribute(NameOID.SURNAME, "S" * 65, _type=UTF8)
            ),
        ),
    ),
    (
        "subject_no_control_characters",
        "subject_tab_in_given_name",
        lambda m, p, c: rebuild(
            m,
            p,
            c,
            subject=subject_with(
                m,
                NameOID.GIVEN_NAME,
                x509.NameAttribute(NameOID.GIVEN_NAME, "Jan\tWillem", _type=UTF8),
            ),
        ),
    ),
    (
        "subject_matches_attributes",
        "subject_other_common_name",
        lambda m, p, c: rebuild(
            m,
            p,
            c,
            subject=subject_with(
                m,
                NameOID.COMMON_NAME,
                x509.NameAttribute(NameOID.COMMON_NAME, "Iemand Anders", _type=UTF8),
            ),
        ),
    ),
    (
        "san_single_uzi_othername",
        "san_extra_dns_name",
        lambda m, p, c: rebuild(
            m,
            p,
            c,
            extensions=_replace_ext(
                m,
                ExtensionOID.SUBJECT_ALTERNATIVE_NAME,
                _san_plus_dns(m),
            ),
        ),
    ),
    (
        "san_single_uzi_othername",
        "san_othername_upn_type_id",
        lambda m, p, c: rebuild(
            m,
            p,
            c,
            extensions=_replace_ext(
                m,
                ExtensionOID.SUBJECT_ALTERNATIVE_NAME,
                x509.SubjectAlternativeName(
                    [
                        x509.OtherName(
                            x509.ObjectIdentifier("1.3.6.1.4.1.311.20.2.3"),
                            encode_uzi_othername(
                                m.expected.attrs.san_string(p.profile.ca_oid)
                            ).value,
                        )
                    ]
                ),
            ),
        ),
    ),
    (
        "san_value_ia5string",
        "san_value_utf8string",
        lambda m, p, c: rebuild(
            m,
            p,
            c,
            extensions=_replace_ext(
                m,
                ExtensionOID.SUBJECT_ALTERNATIVE_NAME,
                _san(acore.UTF8String(m.expected.attrs.san_string(p.profile.ca_oid)).dump()),
            ),
        ),
    ),
    (
        "san_value_ia5string",
        "san_value_double_wrapped",
        lambda m, p, c: rebuild(
            m,
            p,
            c,
            extensions=_replace_ext(
                m,
                ExtensionOID.SUBJECT_ALTERNATIVE_NAME,
                _san(
                    acore.Any(
                        acore.IA5String(
                            m.expected.attrs.san_string(p.profile.ca_oid),
                            explicit=0,
                        )
                    ).dump()
                ),
            ),
        ),
    ),
    (
        "san_string_format",
        "san_string_missing_agb",
        lambda m, p, c: rebuild(
            m,
            p,
            c,
            extensions=_replace_ext(
                m,
                ExtensionOID.SUBJECT_ALTERNATIVE_NAME,
                _san(acore.IA5String(f"{p.profile.ca_oid}-1-900016528-Z-90000382-01.015").dump()),
            ),
        ),
    ),
    (
        "san_string_matches_attributes",
        "san_string_other_ura",
        lambda m, p, c: rebuild(
            m,
            p,
            c,
            extensions=_replace_ext(
                m,
                ExtensionOID.SUBJECT_ALTERNATIVE_NAME,
                _san(
                    acore.IA5String(
                        f"{p.profile.ca_oid}-1-900016528-Z-90000999-01.015-00000000"
                    ).dump()
                ),
            ),
        ),
    ),
    (
        "key_matches_request",
        "key_not_the_csr_key",
        lambda m, p, c: rebuild(m, p, c, key=OTHER_KEY),
    ),
    (
        "extensions_set_and_order",
        "extensions_crl_dp_missing",
        lambda m, p, c: rebuild(
            m,
            p,
            c,
            extensions=[
                e for e in m.builder._extensions if e.oid != ExtensionOID.CRL_DISTRIBUTION_POINTS
            ],
        ),
    ),
    (
        "extensions_set_and_order",
        "extensions_aki_before_ski",
        lambda m, p, c: rebuild(
            m, p, c, extensions=m.builder._extensions[:-2] + m.builder._extensions[-2:][::-1]
        ),
    ),
    (
        "extensions_set_and_order",
        "extensions_eku_twice",
        lambda m, p, c: resign(m.cert, c, _duplicate_eku),
    ),
    (
        "extension_criticality",
        "extension_eku_critical",
        lambda m, p, c: rebuild(
            m,
            p,
            c,
            extensions=_replace_ext(
                m,
                ExtensionOID.EXTENDED_KEY_USAGE,
                _ext(m, ExtensionOID.EXTENDED_KEY_USAGE).value,
                critical=True,
            ),
        ),
    ),
    (
        "extension_criticality",
        "extension_key_usage_not_critical",
        lambda m, p, c: rebuild(
            m,
            p,
            c,
            extensions=_replace_ext(
                m, ExtensionOID.KEY_USAGE, _ext(m, ExtensionOID.KEY_USAGE).value, critical=False
            ),
        ),
    ),
    (
        "extension_values",
        "extension_eku_server_auth",
        lambda m, p, c: rebuild(
            m,
            p,
            c,
            extensions=_replace_ext(
                m,
                ExtensionOID.EXTENDED_KEY_USAGE,
                x509.ExtendedKeyUsage(
                    [ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.SERVER_AUTH]
                ),
            ),
        ),
    ),
    (
        "extension_values",
        "extension_key_usage_key_encipherment",
        lambda m, p, c: rebuild(
            m,
            p,
            c,
            extensions=_replace_ext(
                m,
                ExtensionOID.KEY_USAGE,
                x509.KeyUsage(True, False, True, False, False, False, False, False, False),
            ),
        ),
    ),
    (
        "extension_values",
        "extension_basic_constraints_ca_true",
        lambda m, p, c: rebuild(
            m,
            p,
            c,
            extensions=_replace_ext(
                m, ExtensionOID.BASIC_CONSTRAINTS, x509.BasicConstraints(ca=True, path_length=0)
            ),
        ),
    ),
    (
        "extension_values",
        "extension_aia_other_ocsp_url",
        lambda m, p, c: rebuild(
            m,
            p,
            c,
            extensions=_replace_ext(
                m,
                ExtensionOID.AUTHORITY_INFORMATION_ACCESS,
                x509.AuthorityInformationAccess(
                    [
                        x509.AccessDescription(
                            AuthorityInformationAccessOID.OCSP,
                            x509.UniformResourceIdentifier("http://ocsp.example.nl/"),
                        )
                    ]
                ),
            ),
        ),
    ),
    (
        "ski_matches_key",
        "ski_of_another_key",
        lambda m, p, c: rebuild(
            m,
            p,
            c,
            extensions=_replace_ext(
                m,
                ExtensionOID.SUBJECT_KEY_IDENTIFIER,
                x509.SubjectKeyIdentifier.from_public_key(OTHER_KEY),
            ),
        ),
    ),
]

# Conditions that break RFC 5280 itself, which pkilint must report as well.
RFC_CONDITIONS = {
    "serial_zero",
    "serial_negative",
    "serial_21_octets",
    "not_after_generalizedtime_before_2050",
    "subject_serialnumber_at_sign",
    "subject_empty_surname",
    "subject_organization_65_chars",
    "extensions_eku_twice",
    "extension_key_usage_key_encipherment",
}


@pytest.mark.parametrize(("check", "condition", "breaker"), CASES, ids=[c[1] for c in CASES])
def test_broken_certificate_is_caught(
    check: str, condition: str, breaker: Breaker, policy: Policy, ca: x509.Certificate
) -> None:
    made = make_good(policy, ca)
    broken = breaker(made, policy, ca)
    codes = {f.code for f in fast_lint(broken, made.expected)}
    assert f"zorgid.{check}" in codes, (condition, codes)
    if condition in RFC_CONDITIONS:
        der = broken if isinstance(broken, bytes) else broken.public_bytes(Encoding.DER)
        assert at_or_above(pkilint_cert(der), Severity.WARNING), condition


def test_the_issuing_path_answers_for_every_check() -> None:
    """Each certificate check is answered on the issuing path by an input rule, a
    read of the encoded TBS, or the encoder (tests/profile/test_der_property.py)."""
    assert set(ANSWERED_BY) == {check.__name__ for check in CHECKS}
    assert {rule.__name__ for rule in INPUT_RULES} <= set(ANSWERED_BY)


@pytest.mark.parametrize(
    "attrs",
    [
        attributes(),
        attributes(title=None),
        attributes(card_type="N", role="00.000", title=None, organization="Ziekenhuis Ōost"),
        attributes(given_name="G" * 64, surname="S" * 64, common_name="C" * 64, title="T" * 64),
    ],
    ids=["title", "no-title", "n-card", "longest"],
)
def test_good_inputs_pass_the_issuing_lint(
    attrs: VerifiedAttributes, policy: Policy, ca: x509.Certificate
) -> None:
    shape = profile_shape(policy, ca)
    for key in (
        ec.generate_private_key(ec.SECP256R1()).public_key(),
        ec.generate_private_key(ec.SECP384R1()).public_key(),
    ):
        made = make_good(policy, ca, attrs=attrs, key=key)
        assert lint_inputs(made.expected, shape) == []
        assert lint_encoded(made.cert, made.expected, shape) == []


def test_a_key_the_policy_refuses_fails_the_input_rules(
    policy: Policy, ca: x509.Certificate
) -> None:
    made = make_good(policy, ca, key=ec.generate_private_key(ec.SECP256K1()).public_key())
    shape = profile_shape(policy, ca)
    assert [f.code for f in lint_inputs(made.expected, shape)] == ["zorgid.key_allowed"]


def test_other_expectations_fail_the_checks(policy: Policy, ca: x509.Certificate) -> None:
    """Each varying input differing from the certificate is a finding; a serial or
    clock the encoded TBS does not say is one on the issuing path too."""
    made = make_good(policy, ca)
    exp = made.expected
    shape = profile_shape(policy, ca)
    other_key = ec.generate_private_key(ec.SECP256R1()).public_key()
    for changed in (
        dataclasses.replace(exp, serial=exp.serial + 1),
        dataclasses.replace(exp, attrs=attributes(surname="Anders")),
        dataclasses.replace(exp, attrs=attributes(agb_code="01234567")),
        dataclasses.replace(exp, public_key=other_key),
        dataclasses.replace(exp, now=exp.now + dt.timedelta(seconds=1)),
    ):
        assert fast_lint(made.cert, changed)
    for changed in (
        dataclasses.replace(exp, serial=exp.serial + 1),
        dataclasses.replace(exp, now=exp.now + dt.timedelta(seconds=1)),
    ):
        assert lint_encoded(made.cert, changed, shape)


def test_key_not_allowed_by_policy_is_caught(policy: Policy, ca: x509.Certificate) -> None:
    key = ec.generate_private_key(ec.SECP256K1()).public_key()
    made = make_good(policy, ca, key=key)
    codes = [f.code for f in fast_lint(made.cert, made.expected)]
    assert codes == ["zorgid.key_allowed"]


def test_every_check_has_a_broken_certificate() -> None:
    covered = {c[0] for c in CASES} | {"key_allowed"}
    assert covered == {check.__name__ for check in CHECKS}


def test_good_certificate_passes_fast_lint_and_pkilint(
    policy: Policy, ca: x509.Certificate
) -> None:
    made = make_good(policy, ca)
    assert fast_lint(made.cert, made.expected) == []
    assert fast_lint(made.der, made.expected) == []
    assert at_or_above(pkilint_cert(made.der), Severity.WARNING) == []


def test_every_finding_cites_its_rule(policy: Policy, ca: x509.Certificate) -> None:
    made = make_good(policy, ca)
    other = dataclasses.replace(made.expected, serial=7, attrs=attributes(surname="Anders"))
    findings = fast_lint(made.cert, other)
    assert findings
    assert all(f.rule and f.code.startswith("zorgid.") for f in findings)


def test_garbage_bytes_are_a_finding_not_a_crash(policy: Policy, ca: x509.Certificate) -> None:
    made = make_good(policy, ca)
    assert [f.code for f in fast_lint(b"\x30\x03\x02\x01\x00", made.expected)] == ["zorgid.decode"]
