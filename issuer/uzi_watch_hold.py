"""The UZI-pas watch's holds: ``[uzi_watch] when_unavailable = "suspend"`` (issue 18 item 2).

A card's register CRL that cannot be had for longer than the limit leaves
the card's status unknown. In "suspend" mode every good mobile ID issued on
such a card is put on hold (RFC 5280 §5.3.1 ``certificateHold``, the one
revocation that may be undone): OCSP answers revoked(certificateHold) and
the engine's CRL lists it. When every CRL over the card verifies and is
current again, the card is not on them (a listed card was revoked by then,
hold or not), so the watch releases its own holds: the certificate is good
again and OCSP and the CRL say so. Holds are recorded with ``held_by``
(:data:`issuer.store.uzi_watch.HELD_BY`), so a revocation for any other
reason, or a hold placed by anyone else, is never made good here. Nor is a
held one whose holder's certificates were re-arranged meanwhile by acts that
touch good certificates only (a PIN reset, a newer certificate, a key
revoked for keyCompromise): it takes that revocation instead
(``issuer.store.uzi_watch.release_blocker``).

Each hold and release is one audit event in the transaction that makes it,
naming the certificate, the card and the CRLs; the caller re-signs OCSP and
publishes the CRL after the commit (``publish``), as for the watch's
revocations.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol, runtime_checkable

from issuer.audit import AuditEvent, AuditLog, JsonValue
from issuer.issuance.certificates import REASON_CODES
from issuer.issuance.records import IssuedCertificate
from issuer.issuance.runtime import Issuance
from issuer.store import Connection
from issuer.store import uzi_watch as store

_LOG = logging.getLogger(__name__)

HOLD_CODE = 6
"""RFC 5280 §5.3.1 CRLReason number of ``certificateHold``."""


@dataclass(frozen=True, kw_only=True)
class CardRef:
    """A watched card as the audit names it."""

    issuer_sha256: str
    serial: str
    issuer: str
    """RFC 4514 name of the card's issuing CA."""


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


def _crls(states: Sequence[store.WatchedCrl]) -> list[JsonValue]:
    return [
        {
            "url": s.url,
            "crl_number": s.crl_number,
            "last_success_at": _iso(s.last_success_at),
            "next_update": _iso(s.next_update),
        }
        for s in states
    ]


def is_current(state: store.WatchedCrl, now: datetime) -> bool:
    """Whether the CRL last applied at this URL (signature verified) is current at *now*."""
    if state.last_success_at is None or state.this_update is None:
        return False
    return state.this_update <= now and (state.next_update is None or now < state.next_update)


def hold_card(
    conn: Connection,
    audit: AuditLog,
    card: CardRef,
    unavailable: Sequence[store.WatchedCrl],
    *,
    now: datetime,
    limit: timedelta,
    actor: str,
) -> list[tuple[IssuedCertificate, dict[str, JsonValue]]]:
    """Put every good certificate issued on *card* on hold, each with its audit event."""
    done: list[tuple[IssuedCertificate, dict[str, JsonValue]]] = []
    rows = store.good_certificates_on_card(
        conn, issuer_sha256=card.issuer_sha256, serial=card.serial, at=now
    )
    for row in rows:
        cert = IssuedCertificate.from_row(row)
        if not store.hold_certificate(conn, issuer=cert.issuer, serial=cert.serial, at=now):
            continue
        details: dict[str, JsonValue] = {
            "certificate_id": cert.id,
            "serial": cert.serial,
            "reason": store.HOLD,
            "reason_code": HOLD_CODE,
            "card_serial": card.serial,
            "card_issuer": card.issuer,
            "crls_unavailable": _crls(unavailable),
            "limit_seconds": int(limit.total_seconds()),
        }
        audit.append(
            conn,
            AuditEvent(
                actor_role="engine",
                actor_identity=actor,
                action="certificate.hold",
                subject=f"certificate:{cert.issuer[:16]}:{cert.serial}",
                details=details,
            ),
        )
        _LOG.warning(
            "UZI watch: serial %s on hold: no current CRL for card %s (%s)",
            cert.serial,
            card.serial,
            ", ".join(s.url for s in unavailable),
        )
        done.append(
            (
                dataclasses.replace(
                    cert, status="revoked", revoked_at=now, revocation_reason=store.HOLD
                ),
                details,
            )
        )
    return done


Changed = list[tuple[IssuedCertificate, dict[str, JsonValue]]]
"""Certificates changed in a transaction, each with the details of its audit event."""


def release_card(
    conn: Connection,
    audit: AuditLog,
    card: CardRef,
    current: Sequence[store.WatchedCrl],
    *,
    now: datetime,
    actor: str,
) -> tuple[Changed, Changed]:
    """Make good again the certificates on *card* the watch held (the CRLs *current* say the
    card is not revoked): (released, revoked instead -- see ``store.release_blocker``)."""
    released: Changed = []
    revoked: Changed = []
    rows = store.held_certificates_on_card(
        conn, issuer_sha256=card.issuer_sha256, serial=card.serial, at=now, watch_only=True
    )
    for row in rows:
        cert = IssuedCertificate.from_row(row)
        blocker = store.release_blocker(conn, row)
        details: dict[str, JsonValue] = {
            "certificate_id": cert.id,
            "serial": cert.serial,
            "held_at": _iso(cert.revoked_at),
            "card_serial": card.serial,
            "card_issuer": card.issuer,
            "crls_current": _crls(current),
        }
        if blocker is not None:
            reason, why = blocker
            if not store.revoke_held(
                conn, issuer=cert.issuer, serial=cert.serial, at=now, reason=reason
            ):
                continue
            details = {
                **details,
                "reason": reason,
                "reason_code": REASON_CODES[reason],
                "was_on_hold": True,
                "instead_of_release": why,
            }
            action = "certificate.revoke"
            revoked.append(
                (
                    dataclasses.replace(cert, revoked_at=now, revocation_reason=reason),
                    details,
                )
            )
        else:
            if not store.release_hold(conn, issuer=cert.issuer, serial=cert.serial):
                continue
            details = {**details, "reason": store.HOLD, "reason_code": HOLD_CODE}
            action = "certificate.release"
            released.append(
                (
                    dataclasses.replace(
                        cert, status="good", revoked_at=None, revocation_reason=None
                    ),
                    details,
                )
            )
        audit.append(
            conn,
            AuditEvent(
                actor_role="engine",
                actor_identity=actor,
                action=action,
                subject=f"certificate:{cert.issuer[:16]}:{cert.serial}",
                details=details,
            ),
        )
        _LOG.info(
            "UZI watch: serial %s %s: the CRLs of card %s are current without it",
            cert.serial,
            "released" if action == "certificate.release" else f"revoked ({details['reason']})",
            card.serial,
        )
    return released, revoked


@runtime_checkable
class ManyHooks(Protocol):
    """Hooks that re-sign many responses and publish one CRL (``OcspService``)."""

    def on_revoked_many(self, certs: Sequence[IssuedCertificate]) -> None: ...


def publish(issuance: Issuance, certs: Sequence[IssuedCertificate]) -> None:
    """After the commit: re-sign each one's OCSP response and publish the CRL (the hooks
    read the status from the store, so a release is answered good and leaves the CRL).

    One CRL for the lot when the hooks can (a register CA revoked touches every mobile
    ID of its cards); a failure is logged: the change stays and the refresher catches up.
    """
    if not certs:
        return
    hooks = issuance.cycle.hooks
    if isinstance(hooks, ManyHooks):
        try:
            hooks.on_revoked_many(certs)
        except Exception:
            _LOG.exception("UZI watch: CRL publish failed for %d certificate(s)", len(certs))
        return
    for cert in certs:
        try:
            hooks.on_revoked(cert)
        except Exception:
            _LOG.exception("UZI watch: OCSP/CRL publish failed for serial %s", cert.serial)
