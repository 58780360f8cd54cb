"""The UZI-pas watch covers ZORG-ID smartcards (issue 19): a card follows its UZI-pas.

On a running engine (SQLite and PostgreSQL) whose policy issues cards, two
professionals each register with a UZI-pas of the test UZI-register, log in
with their mobile ID and have a smartcard issued on that registration. The
register's CRL then lists one UZI-pas: the watch revokes that person's mobile
ID and every certificate of their smartcard (``privilegeWithdrawn``), OCSP
says so, the card is revoked, and the other person's card stays good.
"""

from __future__ import annotations

import json
import secrets
from datetime import timedelta
from typing import Any

import grpc
import pytest
import sqlalchemy as sa
from cryptography.x509 import ocsp

from issuer.api.zorgid.v1 import smartcard_pb2, smartcard_pb2_grpc
from issuer.store.schema import audit_events, smartcards
from issuer.uzi.trust import load_trust_set
from issuer.uzi_watch import REASON, UziWatch, WatchSettings
from testkit.smartcard import AUTHENTICATION, CardApp, SmartCard
from tests.flows.cardholder import holder
from tests.flows.conftest import Engine, rpc_code
from tests.flows.stored import serial_of, stored_ocsp_status, stored_status
from tests.flows.test_smartcard import card_eng  # noqa: F401 -- fixture
from tests.softhsm import SoftHsmDir


def _card_state(eng: Engine, card_id: str) -> tuple[str, str | None]:
    with eng.db.connect() as conn:
        row = conn.execute(
            sa.select(smartcards.c.state, smartcards.c.revocation_reason).where(
                smartcards.c.id == card_id
            )
        ).one()
    return row.state, row.revocation_reason


def test_a_revoked_uzi_pas_revokes_the_smartcard_with_the_mobile_id(
    card_eng: Engine,  # noqa: F811
    softhsm_dir: SoftHsmDir,
) -> None:
    eng = card_eng
    eng.register_org()
    a, b = holder(eng, softhsm_dir), holder(eng, softhsm_dir)
    watch = UziWatch(
        engine=eng.db,
        trust=lambda: load_trust_set(str(eng.cards.trust_dir)),
        issuance=eng.runtime.get,
        settings=WatchSettings(),
        clock=eng.clock,
    )
    first = watch.run_once(force=True)
    assert not first.failed and not first.revoked
    assert first.cards == 2

    # A second card started before the UZI-pas is found revoked, redeemed after.
    portal: Any = smartcard_pb2_grpc.SmartcardServiceStub(eng.channel("portal"))  # type: ignore[no-untyped-call]
    pending = portal.StartSmartcard(
        smartcard_pb2.StartSmartcardRequest(login_session_handle=a.session_handle), timeout=30
    )

    assert eng.cards.server is not None
    eng.cards.world.revoke(a.uzi_pas.card.auth)
    eng.cards.server.publish(eng.cards.world)
    eng.clock.advance(timedelta(seconds=1))  # a response replaces one produced earlier only
    report = watch.run_once(force=True)

    revoked = {r["serial"] for r in report.revoked}
    assert revoked == {serial_of(d) for d in (a.mobile_id, *a.card_certificates)}
    for der in (a.mobile_id, *a.card_certificates):
        assert stored_status(eng, der) == ("revoked", REASON)
        assert stored_ocsp_status(eng, der) == ocsp.OCSPCertStatus.REVOKED
    assert _card_state(eng, a.card_id) == ("revoked", REASON)
    with eng.db.connect() as conn:
        (details,) = conn.execute(
            sa.select(audit_events.c.details).where(
                audit_events.c.action == "smartcard.revoked",
                audit_events.c.subject == f"smartcard:{a.card_id}",
                audit_events.c.actor_identity == "uzi-watch",
            )
        ).scalars()
    assert json.loads(details)["card_serial"] == format(a.uzi_pas.card.auth.serial_number, "x")
    # The other person's UZI-pas is not listed: their mobile ID and card stay good.
    for der in (b.mobile_id, *b.card_certificates):
        assert stored_status(eng, der) == ("good", None)
        assert stored_ocsp_status(eng, der) == ocsp.OCSPCertStatus.GOOD
    assert _card_state(eng, b.card_id) == ("active", None)
    # The ticket started on the revoked UZI-pas ended with it: no card is issued on it.
    late = CardApp.insert(SmartCard.blank(softhsm_dir, f"zorgid-watchcard-{secrets.token_hex(4)}"))
    late.generate_key(AUTHENTICATION)
    with pytest.raises(grpc.RpcError) as err:
        portal.RedeemSmartcard(
            smartcard_pb2.RedeemSmartcardRequest(
                ticket=pending.ticket,
                csrs=[
                    smartcard_pb2.SlotCsr(
                        slot=smartcard_pb2.SMARTCARD_SLOT_AUTHENTICATION,
                        csr=late.csr(AUTHENTICATION),
                    )
                ],
            ),
            timeout=60,
        )
    assert rpc_code(err.value) == (grpc.StatusCode.FAILED_PRECONDITION, "ZID-2002")
    # Revoked stays revoked: the next pass finds nothing more to do.
    assert watch.run_once(force=True).revoked == []
