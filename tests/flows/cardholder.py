"""A professional with a mobile ID and a ZORG-ID smartcard, made through the flows.

Registers with a UZI-pas of the test UZI-register, logs in by phone, starts a
card, has a blank card (its own SoftHSM token) make its keys and CSRs, redeems
the set and writes it to the card. For tests that need a card already issued.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from issuer.api.zorgid.v1 import smartcard_pb2, smartcard_pb2_grpc
from testkit.desktop_app import DesktopApp
from testkit.smartcard import AUTHENTICATION, SIGNATURE, CardApp, SmartCard
from tests.flows.conftest import Engine
from tests.softhsm import SoftHsmDir

_SLOT = {
    AUTHENTICATION.label: smartcard_pb2.SMARTCARD_SLOT_AUTHENTICATION,
    SIGNATURE.label: smartcard_pb2.SMARTCARD_SLOT_NON_REPUDIATION,
}
_cards = itertools.count(1)


@dataclass(frozen=True)
class Holder:
    """A professional: their UZI-pas, mobile-ID certificate and smartcard (id, certificates)."""

    uzi_pas: DesktopApp
    mobile_id: bytes
    card_id: str
    card_certificates: tuple[bytes, ...]
    authentication: bytes
    """The card's authentication certificate (DER)."""
    chain: tuple[bytes, ...]
    """The issuing CA's chain the redemption returned (DER)."""
    session_handle: str
    """The login session the card was started from."""


def holder(eng: Engine, softhsm_dir: SoftHsmDir) -> Holder:
    """Register with a UZI-pas, log in by phone, and have a blank card issued and written."""
    uzi_pas = eng.cards.app()
    phone, der, _ = eng.registered(uzi_pas)
    status = eng.login(phone, der)
    stub: Any = smartcard_pb2_grpc.SmartcardServiceStub(eng.channel("portal"))  # type: ignore[no-untyped-call]
    started = stub.StartSmartcard(
        smartcard_pb2.StartSmartcardRequest(login_session_handle=status.session_handle),
        timeout=30,
    )
    app = CardApp.insert(SmartCard.blank(softhsm_dir, f"zorgid-holdercard-{next(_cards)}"))
    csrs = []
    for slot in (AUTHENTICATION, SIGNATURE):
        app.generate_key(slot)
        csrs.append(smartcard_pb2.SlotCsr(slot=_SLOT[slot.label], csr=app.csr(slot)))
    issued = stub.RedeemSmartcard(
        smartcard_pb2.RedeemSmartcardRequest(ticket=started.ticket, csrs=csrs), timeout=60
    )
    by_slot = {c.slot: bytes(c.certificate.der) for c in issued.certificates}
    for slot in (AUTHENTICATION, SIGNATURE):
        app.write_certificate(slot, by_slot[_SLOT[slot.label]])
    auth = by_slot[_SLOT[AUTHENTICATION.label]]
    chain = tuple(bytes(c) for c in issued.chain)
    return Holder(
        uzi_pas,
        der,
        issued.card_id,
        tuple(by_slot.values()),
        auth,
        chain,
        str(status.session_handle),
    )
