"""The UZI-pas watch's ZORG-ID smartcards (issue 19): a card follows its UZI-pas.

A smartcard is issued on the registration of its holder's mobile ID, so the
watch revokes its certificates with the mobile ID's (they share the
registration). The card itself then becomes ``revoked`` too, with one audit
event in the same transaction, as a revocation by its holder would make it;
and a card ticket started on that UZI-pas and not yet redeemed ends, so no card
is issued on it afterwards. A card being issued during the pass (``issuing``)
gets good certificates the next pass revokes, as a mobile ID redeemed then does.
"""

from __future__ import annotations

from datetime import datetime

from issuer.audit import AuditEvent, AuditLog, JsonValue
from issuer.store import Connection
from issuer.store import uzi_watch as store
from issuer.uzi_watch_hold import CardRef


def revoke_smartcards(
    conn: Connection,
    audit: AuditLog,
    ref: CardRef,
    *,
    at: datetime,
    reason: str,
    actor: str,
    details: dict[str, JsonValue],
) -> list[str]:
    """Mark revoked the active smartcards issued on the UZI-pas *ref* (their ids), and end
    its unredeemed card tickets."""
    done = store.revoke_smartcards_on_card(
        conn, issuer_sha256=ref.issuer_sha256, serial=ref.serial, at=at, reason=reason
    )
    for card_id in done:
        audit.append(
            conn,
            AuditEvent(
                actor_role="engine",
                actor_identity=actor,
                action="smartcard.revoked",
                subject=f"smartcard:{card_id}",
                details={
                    "reason": reason,
                    "card_serial": ref.serial,
                    "card_issuer": ref.issuer,
                    **details,
                },
            ),
        )
    for ticket_id in store.end_smartcard_tickets_on_card(
        conn, issuer_sha256=ref.issuer_sha256, serial=ref.serial, at=at
    ):
        audit.append(
            conn,
            AuditEvent(
                actor_role="engine",
                actor_identity=actor,
                action="smartcard.ticket_ended",
                subject=f"smartcard-ticket:{ticket_id}",
                details={"card_serial": ref.serial, "card_issuer": ref.issuer, **details},
            ),
        )
    return done
