"""CSRs that once crashed ``check_csr`` (issue 16, item 7): each gets its own refusal code.

The library raises a whole family of exceptions while parsing (``ValueError``,
``InvalidVersion``, ``UnsupportedAlgorithm`` ...); none may escape as an
internal error, and each kind of defect has a code of its own.
"""

from __future__ import annotations

import pytest

from issuer.issuance.errors import ISSUANCE_ERROR_TABLE
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
