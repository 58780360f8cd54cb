"""What every portal flow needs: its dependencies, the calling portal, small shared steps.

The flows run inside one engine process and keep no state between requests
(ARCHITECTURE §7): drafts, sessions and challenges live in the database, and
every state change appends its audit event in the same transaction.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from issuer.audit import AuditEvent
from issuer.errors import Code, ZorgIdError
from issuer.issuance.records import Actor, IssuedCertificate
from issuer.issuance.runtime import Issuance
from issuer.policy_store import ActiveVersion
from issuer.profile import InvalidAttributesError, VerifiedAttributes
from issuer.store import Connection, Engine
from issuer.store import evidence as evidence_store
from issuer.store import organisations as organisation_store
from issuer.store.evidence import UziEvidence
from issuer.store.organisations import OrganisationRecord
from issuer.uzi import errors as uzi_errors
from issuer.uzi.card import UziIdentity
from issuer.uzi.errors import UziError
from issuer.uzi.verify import UziVerifier
from issuer.uzi_vocabulary import AgbCode, RoleCode, Ura, UziNumber
from policies import Policy


def draft_lifetime(policy: Policy) -> timedelta:
    """How long a registration or validation may stay unconfirmed (``qr.draft_seconds``).

    Read from the policy snapshot the request took at its start
    (``deps.issuance().cycle.policy``), so a newly activated version applies to
    the next request and never to one in flight (issue 7).
    """
    return timedelta(seconds=policy.qr.draft_seconds)


def login_session_lifetime(policy: Policy) -> timedelta:
    """How long a login session handle proves the mobile ID (``qr.login_session_seconds``)."""
    return timedelta(seconds=policy.qr.login_session_seconds)


@dataclass(frozen=True, kw_only=True)
class Portal:
    """The calling portal back end: ``identity`` binds handles, ``name`` is shown to users."""

    identity: str
    name: str
    actor: Actor


@dataclass(frozen=True, kw_only=True)
class FlowDeps:
    """The flows' dependencies, built once per process by the composition root.

    ``engine`` is the database, usable while the HSM is away, so reads
    (``GetRegistration``, login polls, ``ListMembers``) answer during an outage
    (issue 17); ``issuance`` opens the HSM on first use (audit checkpoints and
    the issuing CA key live there) and is taken only by flows that sign or
    audit; ``policy`` is the policy version in force, read without the HSM
    (``GetTerms``); ``chain`` is the CA chain handed out with a certificate (read
    from the ceremony's files, no HSM); ``verifier`` answers which UZI
    identity a UZI session proves; ``host`` is the engine address the QR
    codes name.
    """

    engine: Engine
    issuance: Callable[[], Issuance]
    policy: Callable[[], ActiveVersion]
    chain: Callable[[], tuple[bytes, ...]]
    verifier: UziVerifier
    host: str
    clock: Callable[[], datetime]


def sha256_hex(data: bytes | str) -> str:
    raw = data.encode() if isinstance(data, str) else data
    return hashlib.sha256(raw).hexdigest()


def audit(
    conn: Connection,
    built: Issuance,
    actor: Actor,
    action: str,
    subject: str,
    details: dict[str, Any],
    outcome: str = "success",
) -> None:
    """Append one audit event in the caller's transaction (no secrets in ``details``).

    ``built`` is the :class:`Issuance` the request took at its start
    (``deps.issuance()`` reads the active policy version: never call it inside
    a transaction).
    """
    built.audit.append(
        conn,
        AuditEvent(
            actor_role=actor.role,
            actor_identity=actor.identity,
            action=action,
            subject=subject,
            outcome=outcome,
            details=details,
        ),
    )


def to_attributes(identity: UziIdentity) -> VerifiedAttributes:
    """The issuable attributes of a verified card; ZID-1204 when the card cannot be issued for."""
    try:
        return VerifiedAttributes(
            uzi_number=UziNumber(identity.uzi_number),
            card_type=str(identity.card_type),  # type: ignore[arg-type]
            subscriber_number=Ura(identity.subscriber_number),
            role=RoleCode(identity.role),
            agb_code=AgbCode(identity.agb_code),
            given_name=identity.given_name or "",
            surname=identity.surname or "",
            common_name=identity.common_name,
            title=identity.title,
            organization=identity.organization,
        )
    except InvalidAttributesError as exc:
        raise ZorgIdError(Code.ZID_1204, f"the UZI-pas: {exc}") from None


def uzi_identity(deps: FlowDeps, *, handle: str, portal: Portal, purpose: str) -> UziIdentity:
    """The identity a live UZI session of this portal and flow proves (ZID-1122 otherwise).

    Called *before* the flow opens its transaction: the verifier reads through
    its own connection, which on SQLite would wait for ours.
    """
    return deps.verifier.session(handle, portal=portal.identity, purpose=purpose)


def use_uzi_session(conn: Connection, deps: FlowDeps, *, handle: str) -> str:
    """Mark the UZI session used, once; return its handle's SHA-256 (hex).

    A UZI session opens one registration, validation or attribute
    registration: a second use is refused like an unknown session
    (ZID-1122), so one card presence cannot start two flows.
    """
    digest = sha256_hex(handle)
    if not evidence_store.use_uzi_session(conn, handle_sha256=digest, at=deps.clock()):
        raise UziError(uzi_errors.SESSION_UNKNOWN, "the UZI session was used already")
    return digest


def evidence_of(conn: Connection, session_sha256: str) -> UziEvidence:
    """The UZI proof behind a session (``uzi_evidence`` row); ZID-0001 if it was not kept."""
    row = evidence_store.find_evidence(conn, session_sha256)
    if row is None:
        raise ZorgIdError(
            Code.ZID_0001,
            "no evidence kept for this UZI session; the UziService must use the "
            "evidence-keeping verifier (issuer.flows.evidence)",
        )
    return row


def organisation_by_ura(conn: Connection, ura: str) -> OrganisationRecord:
    """The pre-registered organisation of *ura*; ZID-1602 (contact the operator) if unknown."""
    row = organisation_store.find_by_ura(conn, ura)
    if row is None:
        raise ZorgIdError(
            Code.ZID_1602, f"URA {ura} is not registered; the operator registers organisations"
        )
    return row


def canonical_digest(data: dict[str, Any]) -> str:
    """SHA-256 of sorted, compact JSON: the digest of what a user was shown."""
    return sha256_hex(json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False))


def notify_revoked(deps: FlowDeps, cert: IssuedCertificate) -> None:
    """Tell OCSP/CRL after the commit (the revocation stays if the hook fails)."""
    try:
        deps.issuance().cycle.hooks.on_revoked(cert)
    except Exception:
        logging.getLogger(__name__).exception("on_revoked hook failed for %s", cert.serial)
