"""``key_usage`` sets exactly the bits it is given; ``parsing`` classifies every parse error."""

from __future__ import annotations

import pytest
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm

from issuer.x509util import (
    KEY_USAGE_BITS,
    Defect,
    Part,
    X509ParseError,
    key_usage,
    parsing,
)


def test_only_named_bits_are_set() -> None:
    ku = key_usage("key_cert_sign", "crl_sign")
    assert ku.key_cert_sign and ku.crl_sign
    assert not any(getattr(ku, b) for b in KEY_USAGE_BITS[:5])


def test_a_misspelt_bit_is_refused() -> None:
    with pytest.raises(ValueError, match="digitalSignature"):
        key_usage("digitalSignature")


@pytest.mark.parametrize(
    ("raised", "part", "defect"),
    [
        (x509.InvalidVersion("v", 32), Part.ENCODING, Defect.VERSION),
        (
            x509.DuplicateExtension("twice", x509.ObjectIdentifier("2.5.29.19")),
            Part.EXTENSIONS,
            Defect.DUPLICATE_EXTENSION,
        ),
        (x509.UnsupportedGeneralNameType("x400"), Part.EXTENSIONS, Defect.GENERAL_NAME_TYPE),
        (UnsupportedAlgorithm("oid"), Part.SIGNATURE_ALGORITHM, Defect.UNKNOWN_ALGORITHM),
        (ValueError("pss"), Part.SIGNATURE_ALGORITHM, Defect.ALGORITHM_PARAMETERS),
        (UnsupportedAlgorithm("dsa"), Part.PUBLIC_KEY, Defect.PUBLIC_KEY),
        (TypeError("BitString"), Part.NAMES, Defect.NAME_ATTRIBUTE_TYPE),
        (ValueError("short"), Part.ENCODING, Defect.MALFORMED),
    ],
)
def test_every_member_of_the_family_becomes_a_classified_parse_error(
    raised: Exception, part: Part, defect: Defect
) -> None:
    with pytest.raises(X509ParseError) as caught, parsing(part):
        raise raised
    assert (caught.value.part, caught.value.defect) == (part, defect)


def test_other_errors_pass_through() -> None:
    with pytest.raises(KeyError), parsing(Part.NAMES):
        raise KeyError("not a parse error")
