"""``zorgid uzi inspect`` reads a ZORG-ID smartcard certificate as verified (issue 19).

A card certificate is laid out like a UZI-pas "medewerker op naam" card so
that UZI software reads it unchanged (docs/decisions/profile.md): the
inspector, run as ``zorgid`` on the card's authentication certificate issued
through the flow, reads the UZI number, URA and AGB the registration verified,
card type N and role 00.000 (an N card's role). It is not a UZI-pas: against
the UZI-register's trust set it is refused as not issued by a UZI-register CA.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from issuer.cli import main
from issuer.store.schema import registrations, smartcards
from issuer.uzi import errors
from tests.flows.cardholder import holder
from tests.flows.conftest import URA, Engine
from tests.flows.test_smartcard import card_eng  # noqa: F401 -- fixture
from tests.softhsm import SoftHsmDir


def _verified(eng: Engine, card_id: str) -> dict[str, Any]:
    """The attributes frozen on the registration the card was issued on."""
    with eng.db.connect() as conn:
        frozen = conn.execute(
            sa.select(registrations.c.frozen_data)
            .select_from(
                smartcards.join(registrations, smartcards.c.registration_id == registrations.c.id)
            )
            .where(smartcards.c.id == card_id)
        ).scalar_one()
    return dict(json.loads(frozen) if isinstance(frozen, str) else frozen)


def test_inspect_reads_the_card_authentication_certificate_as_verified(
    card_eng: Engine,  # noqa: F811
    softhsm_dir: SoftHsmDir,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    eng = card_eng
    eng.register_org()
    made = holder(eng, softhsm_dir)
    cert = tmp_path / "card-auth.der"
    cert.write_bytes(made.authentication)
    verified = _verified(eng, made.card_id)
    assert verified["card_type"] == "Z"  # the UZI-pas; the card is written as N

    code = main(
        [
            "uzi",
            "inspect",
            str(cert),
            "--trust",
            str(eng.cards.trust_dir),
            "--at",
            eng.clock().isoformat(),
            "--revocation",
            "off",
            "--json",
        ]
    )
    obj = json.loads(capsys.readouterr().out)
    assert obj["kind"] == "authentication"
    assert obj["card_type"] == "N"
    assert obj["role"] == "00.000"
    assert obj["uzi_number"] == verified["uzi_number"] == made.uzi_pas.card.uzi_number
    assert obj["subscriber_number"] == verified["subscriber_number"] == URA
    assert obj["agb_code"] == verified["agb_code"]
    assert (obj["given_name"], obj["surname"], obj["common_name"]) == (
        verified["given_name"],
        verified["surname"],
        verified["common_name"],
    )
    assert obj["title"] is None  # no title on an N card
    assert obj["organization"] == verified["organization"]
    # A ZORG-ID card is not a UZI-pas: the UZI-register's trust set refuses its issuer.
    assert code == 1
    assert obj["valid"] is False
    assert obj["error"]["code"] == errors.UNKNOWN_CA
    assert "ZORG-ID" in obj["issuer"]
