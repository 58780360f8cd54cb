"""Card certificates that once crashed the card parser (issue 16, item 7).

Each kind of defect has its own code; none may surface as an internal error.
"""

from __future__ import annotations

import pytest

from issuer.errors.uzi import UZI_ERROR_TABLE
from issuer.uzi.card import load_certificate, load_certificates, parse_card
from issuer.uzi.errors import UziError
from tests.regressions import CARD_REFUSALS, card_inputs


def test_every_regression_file_has_an_expected_refusal() -> None:
    assert set(card_inputs()) == set(CARD_REFUSALS)


@pytest.mark.parametrize("name", sorted(CARD_REFUSALS))
def test_regression_card_is_refused_with_its_own_code(name: str) -> None:
    data = card_inputs()[name]
    with pytest.raises(UziError) as single:
        parse_card(load_certificate(data))
    assert single.value.code == CARD_REFUSALS[name]
    with pytest.raises(UziError) as bundle:
        load_certificates(data)
    assert bundle.value.code == CARD_REFUSALS[name]


def test_each_defect_has_a_distinct_catalogued_code() -> None:
    codes = list(CARD_REFUSALS.values())
    assert len(set(codes)) == len(codes)
    catalogued = {row[0]: row[1] for row in UZI_ERROR_TABLE}
    assert all(catalogued[code] == "INVALID_ARGUMENT" for code in codes)
