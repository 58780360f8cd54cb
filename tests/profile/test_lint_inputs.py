"""One bad input per input rule: the issuing path refuses it, naming the rule.

The per-certificate lint (``issuer.lint.inputs``) asks the profile's rules of
the inputs; :class:`VerifiedAttributes` refuses most bad values when it is
made, so these cases set them afterwards, as a drifted reader would.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from issuer.lint import LintError, build_and_lint, lint_inputs
from issuer.lint.cert import Expected, profile_shape
from issuer.lint.inputs import INPUT_RULES
from issuer.profile import VerifiedAttributes, draw_serial
from policies import Policy
from tests.profile.certs import NOW, attributes, make_good


def _with(**changes: object) -> VerifiedAttributes:
    """Good attributes with values set past the constructor's own checks."""
    attrs = attributes()
    for name, value in changes.items():
        object.__setattr__(attrs, name, value)
    return attrs


# (rule, condition, inputs): the condition names the bad input.
CASES: list[tuple[str, str, Callable[[Expected], Expected]]] = [
    (
        "subject_string_types",
        "surname_lone_surrogate",
        lambda e: dataclasses.replace(e, attrs=_with(surname="van \ud800")),
    ),
    (
        "subject_printable_charset",
        "uzi_number_at_sign",
        lambda e: dataclasses.replace(e, attrs=_with(uzi_number="90001652@")),
    ),
    (
        "subject_no_empty_values",
        "given_name_empty",
        lambda e: dataclasses.replace(e, attrs=_with(given_name="")),
    ),
    (
        "subject_lengths",
        "organization_65_chars",
        lambda e: dataclasses.replace(e, attrs=_with(organization="O" * 65)),
    ),
    (
        "subject_no_control_characters",
        "surname_with_nul",
        lambda e: dataclasses.replace(e, attrs=_with(surname="van\x00Berg")),
    ),
    (
        "subject_no_control_characters",
        "title_outer_space",
        lambda e: dataclasses.replace(e, attrs=_with(title=" dr.")),
    ),
    (
        "san_value_ia5string",
        "agb_code_not_ascii",
        lambda e: dataclasses.replace(e, attrs=_with(agb_code="0000000é")),
    ),
    (
        "san_string_format",
        "role_without_dot",
        lambda e: dataclasses.replace(e, attrs=_with(role="01015")),
    ),
    (
        "key_allowed",
        "key_secp256k1",
        lambda e: dataclasses.replace(
            e, public_key=ec.generate_private_key(ec.SECP256K1()).public_key()
        ),
    ),
]


@pytest.mark.parametrize(("rule", "condition", "change"), CASES, ids=[c[1] for c in CASES])
def test_bad_input_breaks_its_rule(
    rule: str,
    condition: str,
    change: Callable[[Expected], Expected],
    policy: Policy,
    ca: x509.Certificate,
) -> None:
    made = make_good(policy, ca)
    findings = lint_inputs(change(made.expected), profile_shape(policy, ca))
    assert f"zorgid.{rule}" in {f.code for f in findings}, condition
    assert all(f.rule for f in findings)


def test_a_template_unlike_the_profile_breaks_the_extension_rules(
    policy: Policy, ca: x509.Certificate
) -> None:
    made = make_good(policy, ca)
    shape = dataclasses.replace(
        profile_shape(policy, ca), template_extension_order=False, template_criticality=False
    )
    codes = [f.code for f in lint_inputs(made.expected, shape)]
    assert codes == ["zorgid.extensions_set_and_order", "zorgid.extension_criticality"]


def test_every_input_rule_has_a_bad_input() -> None:
    covered = {c[0] for c in CASES} | {"extensions_set_and_order", "extension_criticality"}
    assert covered == {rule.__name__ for rule in INPUT_RULES}


def test_the_issuing_path_refuses_a_bad_input_before_signing(
    policy: Policy, ca: x509.Certificate
) -> None:
    phone = ec.generate_private_key(ec.SECP256K1()).public_key()
    with pytest.raises(LintError, match="key_allowed"):
        build_and_lint(attributes(), phone, draw_serial(), policy, ca, NOW)
