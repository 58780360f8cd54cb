"""CSRs that once crashed ``check_csr`` (issue 16, item 7): each gets its own refusal code.

The library raises a whole family of exceptions while parsing (``ValueError``,
``InvalidVersion``, ``UnsupportedAlgorithm`` ...); none may escape as an
internal error, and each kind of defect has a code of its own.
"""

from __future__ import annotations

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from issuer.errors.issuance import ISSUANCE_ERROR_TABLE
from issuer.profile import CsrError, check_csr
from policies import Policy
from tests.regressions import (
    CSR_REFUSALS,
    PSS_WITHOUT_PARAMETERS,
    csr_inputs,
    rsa_pss_csr_without_parameters,
)


def test_every_regression_file_has_an_expected_refusal() -> None:
    assert set(csr_inputs()) == set(CSR_REFUSALS)


@pytest.mark.parametrize("name", sorted(CSR_REFUSALS))
def test_regression_csr_is_refused_with_its_own_code(name: str, policy: Policy) -> None:
    with pytest.raises(CsrError) as caught:
        check_csr(csr_inputs()[name], policy)
    assert (caught.value.reason, caught.value.code) == CSR_REFUSALS[name]


def test_rsa_pss_without_parameters_is_refused_with_its_own_code(policy: Policy) -> None:
    with pytest.raises(CsrError) as caught:
        check_csr(rsa_pss_csr_without_parameters(), policy)
    assert (caught.value.reason, caught.value.code) == PSS_WITHOUT_PARAMETERS


def test_each_defect_has_a_distinct_catalogued_code() -> None:
    codes = [code for _, code in CSR_REFUSALS.values()] + [PSS_WITHOUT_PARAMETERS[1]]
    assert len(set(codes)) == len(codes)
    catalogued = {row[0]: row[1] for row in ISSUANCE_ERROR_TABLE}
    assert all(catalogued[code] == "INVALID_ARGUMENT" for code in codes)


def test_an_unreadable_public_key_has_its_own_code(policy: Policy) -> None:
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
    off_curve = point[:-1] + bytes([point[-1] ^ 0x01])
    with pytest.raises(CsrError) as caught:
        check_csr(csr.replace(point, off_curve), policy)
    assert (caught.value.reason, caught.value.code) == ("unsupported-key", "ZID-1263")


@pytest.mark.parametrize("data", [b"garbage", b"\x30\x03\x02\x01\x00"])
def test_other_unreadable_input_stays_malformed(data: bytes, policy: Policy) -> None:
    with pytest.raises(CsrError) as caught:
        check_csr(data, policy)
    assert (caught.value.reason, caught.value.code) == ("malformed", "ZID-1201")
