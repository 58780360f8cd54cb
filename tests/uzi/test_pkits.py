"""NIST PKITS through the engine's own validation entry point.

The 246 cases with expected results are the ones pyhanko-certvalidator ships
(``tests/fixtures/nist_pkits/pkits.json`` in its 0.33.0 sdist, copied with the
certificates and CRLs they need to ``tests/fixtures/pkits/``). Each case runs
through :class:`issuer.uzi.validate.ChainValidator` -- the code path
``verify_card`` uses -- at 2022-05-01 (the suite's certificates expire in
2030), with MD2/MD5 refused but SHA-1 and 1024-bit keys allowed (the suite is
from 2011). Revocation is ``hard`` (a CRL for every certificate), or ``soft``
where the case says revocation is not part of it.

A case agrees when valid/refused matches, and when the expected error is a
revocation error the engine gives the revocation code. Disagreements must be
listed, with their reason, in ``expected-disagreements.json``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from issuer.uzi.card import load_certificate
from issuer.uzi.crl import CrlCache, parse_crl
from issuer.uzi.errors import UziError
from issuer.uzi.validate import AlgorithmRules, ChainValidator, PkixParams, RevocationMode

FIXTURES = Path(__file__).parents[1] / "fixtures" / "pkits"
CASES: list[dict[str, Any]] = json.loads((FIXTURES / "pkits.json").read_text())
EXPECTED_DISAGREEMENTS: dict[str, dict[str, str]] = json.loads(
    (FIXTURES / "expected-disagreements.json").read_text()
)["disagreements"]
MOMENT = datetime(2022, 5, 1, tzinfo=UTC)
PKITS_ALGORITHMS = AlgorithmRules(
    weak_hashes=frozenset({"md2", "md5"}), min_rsa_bits=1024, min_dsa_bits=1024
)
CODE_FOR_ERROR = {
    "RevokedError": "ZID-1110",
    "InsufficientRevinfoError": "ZID-1111",
    "StaleRevinfoError": "ZID-1111",
}


def run_case(case: dict[str, Any]) -> str | None:
    """The engine's verdict: None when valid, else the refusal code."""
    crls = [
        parse_crl((FIXTURES / "crls" / n).read_bytes(), n)
        for n in ["TrustAnchorRootCRL.crl", *case.get("crls", [])]
    ]
    validator = ChainValidator(crls=CrlCache(static=crls), algorithms=PKITS_ALGORITHMS)
    params = case.get("params")
    pkix = None
    if params:
        pkix = PkixParams(
            user_initial_policy_set=frozenset(
                params.get("user_initial_policy_set", ["any_policy"])
            ),
            initial_explicit_policy=params.get("initial_explicit_policy", False),
            initial_any_policy_inhibit=params.get("initial_any_policy_inhibit", False),
            initial_policy_mapping_inhibit=params.get("initial_policy_mapping_inhibit", False),
        )
    try:
        leaf = load_certificate((FIXTURES / "certs" / case["cert"]).read_bytes())
        root = load_certificate(
            (FIXTURES / "certs" / "TrustAnchorRootCertificate.crt").read_bytes()
        )
        others = [
            load_certificate((FIXTURES / "certs" / n).read_bytes())
            for n in case.get("other_certs", [])
        ]
        validator.validate(
            leaf,
            anchors=[root],
            intermediates=others,
            at=MOMENT,
            revocation=RevocationMode.HARD if case.get("revocation", True) else RevocationMode.SOFT,
            pkix=pkix,
        )
    except UziError as exc:
        return exc.code
    return None


def agrees(case: dict[str, Any], verdict: str | None) -> bool:
    expected = case.get("error", {}).get("class")
    if (expected is None) != (verdict is None):
        return False
    return expected not in CODE_FOR_ERROR or CODE_FOR_ERROR[expected] == verdict


def test_case_count() -> None:
    assert len(CASES) == 246


@pytest.mark.filterwarnings("ignore::cryptography.utils.CryptographyDeprecationWarning")
@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_pkits_case(case: dict[str, Any]) -> None:
    verdict = run_case(case)
    listed = EXPECTED_DISAGREEMENTS.get(case["name"])
    if listed is None:
        assert agrees(case, verdict), (
            f"{case['id']} {case['name']}: expected {case.get('error', 'valid')}, "
            f"engine says {verdict or 'valid'}"
        )
    else:
        assert not agrees(case, verdict), "listed disagreement now agrees: remove it"
        assert (verdict or "valid") == listed["engine"], listed["reason"]


@pytest.mark.filterwarnings("ignore::cryptography.utils.CryptographyDeprecationWarning")
def test_revalidation_with_one_validator_gives_the_same_verdict() -> None:
    """Regression: shared asn1crypto objects re-encoded differently on the second run."""
    case = next(c for c in CASES if c["name"] == "valid_name_chaining_uids_test6")
    crls = [
        parse_crl((FIXTURES / "crls" / n).read_bytes(), n)
        for n in ["TrustAnchorRootCRL.crl", *case["crls"]]
    ]
    validator = ChainValidator(crls=CrlCache(static=crls), algorithms=PKITS_ALGORITHMS)
    certs = {
        n: load_certificate((FIXTURES / "certs" / n).read_bytes())
        for n in ["TrustAnchorRootCertificate.crt", case["cert"], *case["other_certs"]]
    }
    for _ in range(3):
        validator.clear_cache()
        chain = validator.validate(
            certs[case["cert"]],
            anchors=[certs["TrustAnchorRootCertificate.crt"]],
            intermediates=[certs[n] for n in case["other_certs"]],
            at=MOMENT,
            revocation=RevocationMode.SOFT,
        )
        assert chain.from_cache is False
