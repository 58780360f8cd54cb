"""The ``zorgid demo`` walk's smartcard step (portal manual §6, issue 19).

A logged-in professional makes a ZORG-ID smartcard: the portal starts a card,
a blank card (:meth:`issuer.cli.demo.Demo.blank_card`: a SoftHSM token of its
own under ``<data-dir>/demo/softhsm``, as the demo's phones are)
makes an RSA-2048 key and a CSR per slot on the card, the portal redeems the
set and each certificate is written to the card next to its key. Needs a
policy with ``[smartcard] enabled = true``: the development policy the demo
world writes (:func:`issuer.cli.demo.ensure_demo_world`) has it.
"""

from __future__ import annotations

from typing import Any

from issuer.cli.demo import Demo, DemoFailed
from issuer.serials import format_serial


def make_smartcard(demo: Demo, session_handle: str, who: str) -> None:
    """Start, make the keys, redeem, write and print the card's certificates."""
    from cryptography import x509

    from issuer.api.zorgid.v1 import smartcard_pb2
    from issuer.flows.smartcard import AUTHENTICATION, ENCRYPTION, NON_REPUDIATION, SLOT_USAGES

    names = {
        smartcard_pb2.SMARTCARD_SLOT_AUTHENTICATION: AUTHENTICATION,
        smartcard_pb2.SMARTCARD_SLOT_NON_REPUDIATION: NON_REPUDIATION,
        smartcard_pb2.SMARTCARD_SLOT_ENCRYPTION: ENCRYPTION,
    }
    demo.say(f"{who}: make a ZORG-ID smartcard -- a blank card, keys made on it, certificates")
    stub: Any = demo.portal.smartcard
    started = demo.call(
        "StartSmartcard",
        stub.StartSmartcard,
        smartcard_pb2.StartSmartcardRequest(login_session_handle=session_handle),
    )
    demo.ok(f"card ticket issued, valid until {started.expires_at.ToDatetime():%H:%M:%S} UTC")
    card, on_card = demo.blank_card()
    slots = {value: on_card[name] for value, name in names.items()}
    csrs = []
    for value, slot in slots.items():
        card.generate_key(slot)
        csrs.append(smartcard_pb2.SlotCsr(slot=value, csr=card.csr(slot)))
    demo.ok(f"card {card.card.label}: an RSA-2048 key per slot made on the card, CSRs signed there")
    issued = demo.call(
        "RedeemSmartcard",
        stub.RedeemSmartcard,
        smartcard_pb2.RedeemSmartcardRequest(ticket=started.ticket, csrs=csrs),
    )
    got = sorted(item.slot for item in issued.certificates)
    if got != sorted(slots):
        raise DemoFailed(
            f"step {demo.step}: got card certificates for slots {got}; "
            f"expected one per slot {sorted(slots)}"
        )
    demo.ok(f"card {issued.card_id}: {len(issued.certificates)} certificates issued")
    by_slot = {item.slot: bytes(item.certificate.der) for item in issued.certificates}
    for value, slot in slots.items():  # in card order
        cert = card.write_certificate(slot, by_slot[value])
        usage = SLOT_USAGES[names[value]]
        demo.ok(
            f"written to the card, slot {slot.label}: {cert.subject.rfc4514_string()}, "
            f"serial {format_serial(cert.serial_number)}, usage {usage}, "
            f"keyUsage {_key_usage(cert.extensions.get_extension_for_class(x509.KeyUsage).value)}"
        )


def _key_usage(usage: Any) -> str:
    names = ("digital_signature", "content_commitment", "key_encipherment", "data_encipherment")
    return ",".join(name for name in names if getattr(usage, name))
