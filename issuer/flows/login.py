"""Flow 3, login by QR: the portal asks, the phone signs, the portal polls.

What the phone signs (docs/flows.md, "The login signature") is a canonical,
domain-separated text, never a bare nonce another service might also ask it
to sign (api-sketch)::

    ZORG-ID login v1\\n
    c=<challenge id>\\n
    n=<nonce, unpadded base64url>\\n
    p=<portal identity: "sha256:" + hex SHA-256 of the portal's TLS certificate>\\n
    t=<signing time, UTC, YYYY-MM-DDTHH:MM:SSZ>\\n

Every field is from a fixed alphabet without newlines, so the encoding is
injective. The portal identity binds the answer to the portal that showed the
QR (a QR relayed to another portal cannot log in there); the phone learns it
from :func:`describe_login_challenge`, together with the portal's name to show
the user before they accept. The signature is ECDSA with SHA-256 (RFC 5758
§3.2) or RSASSA-PKCS1-v1_5 with SHA-256 (RFC 8017 §8.2), by the key type of
the mobile-ID certificate.

Only a certificate this engine issued (same issuer, serial and DER as
stored), good and within its validity logs in; a challenge is answered once
and collected once: the login session handle is handed to the portal on its
first poll after the answer and never again.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Final, NoReturn

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import load_der_public_key

from issuer.enrolment.create import attrs_from_json
from issuer.errors import Code, ZorgIdError
from issuer.flows.common import FlowDeps, Portal, audit, login_session_lifetime, sha256_hex
from issuer.issuance.records import Actor
from issuer.issuance.runtime import Issuance
from issuer.profile import VerifiedAttributes
from issuer.qr import RenderedQr, b64url, login_uri, render
from issuer.store import Connection, repo
from issuer.store import logins as login_store
from issuer.store import mobile_ids as mobile_id_store
from issuer.store import registrations as registration_store
from issuer.store.logins import LoginChallengeRecord

CLOCK_SKEW: Final = timedelta(seconds=60)
"""How far the phone's signing time may lie outside [created, now]: phone clocks drift."""
MAX_CHALLENGE_ID: Final = 64


@dataclass(frozen=True, kw_only=True)
class LoginChallenge:
    """A new login QR (``qr.payload`` is the documented ``zorgid://login`` URI)."""

    id: str
    expires_at: datetime
    qr: RenderedQr = field(repr=False)


@dataclass(frozen=True, kw_only=True)
class LoginRequest:
    """What the phone shows before the user accepts, and signs over."""

    challenge_id: str
    nonce: bytes = field(repr=False)
    portal_identity: str
    portal_name: str
    expires_at: datetime


@dataclass(frozen=True, kw_only=True)
class LoginStatus:
    """The portal's poll: pending, authenticated, expired or refused."""

    state: str
    expires_at: datetime
    session_handle: str | None = field(default=None, repr=False)
    """Only on the first poll after the answer: the portal keeps it."""
    session_expires_at: datetime | None = None
    person_id: str | None = None
    mobile_id: str | None = None
    certificate_id: str | None = None
    certificate_serial: str | None = None
    attributes: VerifiedAttributes | None = None
    refusal_code: str | None = None


@dataclass(frozen=True, kw_only=True)
class LoginSession:
    """A logged-in person, proven by their mobile ID."""

    person_id: str
    mobile_id: str
    certificate_id: str
    expires_at: datetime


def login_message(challenge_id: str, nonce: bytes, portal_identity: str, at: datetime) -> bytes:
    """The exact bytes the phone signs (module doc)."""
    stamp = at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return (
        f"ZORG-ID login v1\nc={challenge_id}\nn={b64url(nonce)}\np={portal_identity}\nt={stamp}\n"
    ).encode("ascii")


def current_certificate_message(spki_sha256: str, at: datetime) -> bytes:
    """The bytes a phone signs to fetch its key's current certificate (docs/flows.md)."""
    stamp = at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"ZORG-ID current certificate v1\nk={spki_sha256}\nt={stamp}\n".encode("ascii")


def create_login_challenge(deps: FlowDeps, *, portal: Portal) -> LoginChallenge:
    """A login QR valid ``policy.qr.login_seconds`` (5 minutes by default)."""
    built = deps.issuance()
    now = deps.clock()
    challenge_id = secrets.token_urlsafe(18)
    nonce = secrets.token_bytes(32)
    expires = now + timedelta(seconds=built.cycle.policy.qr.login_seconds)
    with built.engine.begin() as conn:
        login_store.insert_login_challenge(
            conn,
            challenge_id=challenge_id,
            nonce=nonce,
            portal_identity=portal.identity,
            portal_name=portal.name[:256],
            at=now,
            expires_at=expires,
        )
        audit(conn, built, portal.actor, "login.challenge", f"login:{challenge_id}", {})
    return LoginChallenge(
        id=challenge_id, expires_at=expires, qr=render(login_uri(challenge_id, nonce, deps.host))
    )


def _challenge(conn: Connection, challenge_id: str) -> LoginChallengeRecord:
    if not 0 < len(challenge_id) <= MAX_CHALLENGE_ID:
        raise ZorgIdError(Code.ZID_1701, f"got a challenge id of {len(challenge_id)} characters")
    row = login_store.find_login_challenge(conn, challenge_id)
    if row is None:
        raise ZorgIdError(Code.ZID_1701, f"no login challenge {challenge_id!r}")
    return row


def describe_login_challenge(deps: FlowDeps, *, challenge_id: str) -> LoginRequest:
    """For the phone: which portal asks, and the values to sign."""
    with deps.engine.connect() as conn:
        row = _challenge(conn, challenge_id)
    if row.answered_at is not None:
        raise ZorgIdError(Code.ZID_1708, f"answered at {row.answered_at.isoformat()}")
    if row.expires_at <= deps.clock():
        raise ZorgIdError(Code.ZID_1702, f"expired at {row.expires_at.isoformat()}")
    return LoginRequest(
        challenge_id=row.id,
        nonce=bytes(row.nonce),
        portal_identity=row.portal_identity,
        portal_name=row.portal_name or "",
        expires_at=row.expires_at,
    )


def _refuse(
    deps: FlowDeps, built: Issuance, actor: Actor, challenge_id: str, code: Code, detail: str
) -> NoReturn:
    """A refusal of a verified answer ends the challenge: the portal's poll says "refused".

    Only for an answer signed by the key of a certificate issued here (revoked
    or expired): an answer that does not verify must not end a login someone
    else is about to answer (issue 16 item 11).
    """
    now = deps.clock()
    with built.engine.begin() as conn:
        login_store.refuse_login_challenge(conn, challenge_id=challenge_id, code=code, at=now)
        audit(
            conn, built, actor, "login.answer", f"login:{challenge_id}", {"code": code}, "refused"
        )
    raise ZorgIdError(code, detail)


def _verify(cert: x509.Certificate, signature: bytes, message: bytes) -> None:
    _verify_key(cert.public_key(), signature, message)


def _verify_key(key: object, signature: bytes, message: bytes) -> None:
    """ECDSA or RSA PKCS#1 v1.5 with SHA-256 by *key*; ZID-1706 when it does not verify."""
    try:
        if isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, message, ec.ECDSA(hashes.SHA256()))
        elif isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
        else:
            raise InvalidSignature
    except InvalidSignature:
        raise ZorgIdError(
            Code.ZID_1706, "the signature does not verify over the login message (docs/flows.md)"
        ) from None


def check_key_proof(
    deps: FlowDeps, *, spki_sha256: str, signature: bytes, signed_at: datetime | None
) -> None:
    """The caller holds the key *spki_sha256*: its signature over
    :func:`current_certificate_message`, made within ``CLOCK_SKEW`` of now; ZID-1851 otherwise.

    Why: the mobile role is any gateway, and a key's SPKI hash is no secret
    (it is in every certificate of the key), so without a proof anyone could
    read the newest certificate -- name, UZI number, organisations -- of any
    phone (issue 16 item 11). The key is the mobile ID's stored public key;
    an unknown key is refused like a wrong signature (no oracle). A proof may
    be replayed within the window, which reveals only what it was made for.
    """
    now = deps.clock()
    if len(spki_sha256) != 64 or any(c not in "0123456789abcdef" for c in spki_sha256):
        raise ZorgIdError(Code.ZID_1851, "spki_sha256: expected 64 lowercase hex digits")
    if signed_at is None or not signature:
        raise ZorgIdError(Code.ZID_1851, "no proof: signature and signed_at are required")
    if abs(signed_at - now) > CLOCK_SKEW:
        raise ZorgIdError(
            Code.ZID_1851,
            f"signed at {signed_at.isoformat()}; expected within {CLOCK_SKEW} of {now.isoformat()}",
        )
    with deps.engine.connect() as conn:
        der = mobile_id_store.public_key_of(conn, spki_sha256)
    try:
        if der is None:
            raise ZorgIdError(Code.ZID_1706, "unknown key")
        _verify_key(
            load_der_public_key(bytes(der)),
            signature,
            current_certificate_message(spki_sha256, signed_at),
        )
    except ZorgIdError:
        raise ZorgIdError(
            Code.ZID_1851, "the proof does not verify with the key of that SPKI hash"
        ) from None


def answer_login_challenge(
    deps: FlowDeps,
    *,
    actor: Actor,
    challenge_id: str,
    certificate_der: bytes,
    signature: bytes,
    signed_at: datetime,
) -> None:
    """The phone's answer: its mobile-ID certificate and signature (module doc)."""
    built = deps.issuance()
    now = deps.clock()
    with built.engine.connect() as conn:
        row = _challenge(conn, challenge_id)
    if row.answered_at is not None:
        raise ZorgIdError(Code.ZID_1708, f"answered at {row.answered_at.isoformat()}")
    if row.refused_at is not None:
        raise ZorgIdError(Code(row.refusal_code or Code.ZID_1703), "this login was refused already")
    if row.expires_at <= now:
        raise ZorgIdError(Code.ZID_1702, f"expired at {row.expires_at.isoformat()}")
    # Only an answer that verifies may end the challenge (issue 16 item 11): anything
    # else is refused and leaves it pending, so the right phone can still answer.
    try:
        cert = x509.load_der_x509_certificate(certificate_der)
        serial = format(cert.serial_number, "x")
    except (ValueError, x509.InvalidVersion):
        raise ZorgIdError(Code.ZID_1703, "the certificate is not DER X.509") from None
    stored = None
    with built.engine.connect() as conn:
        # Any issuing CA generation's: a certificate of a retired one logs in until it expires.
        for issuer in built.issuer_ids:
            stored = mobile_id_store.certificate_by_serial(conn, issuer=issuer, serial=serial)
            if stored is not None and bytes(stored.der) == certificate_der:
                break
    if stored is None or bytes(stored.der) != certificate_der:
        raise ZorgIdError(Code.ZID_1703, f"serial {serial} was not issued here")
    if not row.created_at - CLOCK_SKEW <= signed_at <= now + CLOCK_SKEW:
        raise ZorgIdError(
            Code.ZID_1707,
            f"signed at {signed_at.isoformat()}; expected between "
            f"{row.created_at.isoformat()} and {now.isoformat()} (+/- {CLOCK_SKEW})",
        )
    _verify(
        cert, signature, login_message(row.id, bytes(row.nonce), row.portal_identity, signed_at)
    )
    # Signed by the key of a certificate issued here: a refusal now ends the login.
    if stored.status != "good":
        _refuse(
            deps, built, actor, challenge_id, Code.ZID_1704, f"serial {serial} is {stored.status}"
        )
    if not stored.not_before <= now < stored.not_after:
        _refuse(
            deps,
            built,
            actor,
            challenge_id,
            Code.ZID_1705,
            f"serial {serial} is valid {stored.not_before.isoformat()} to "
            f"{stored.not_after.isoformat()}; now is {now.isoformat()}",
        )
    with built.engine.begin() as conn:
        if not repo.answer_login_challenge(
            conn, challenge_id=row.id, certificate_id=stored.id, signature=signature, at=now
        ):
            raise ZorgIdError(Code.ZID_1708, "answered concurrently, or expired meanwhile")
        audit(
            conn,
            built,
            actor,
            "login.answer",
            f"login:{row.id}",
            {"certificate_id": stored.id, "serial": serial},
        )


def _attributes_of(conn: Connection, registration_id: str | None) -> VerifiedAttributes | None:
    if registration_id is None:
        return None
    frozen = registration_store.frozen_data_of(conn, registration_id)
    return None if frozen is None else attrs_from_json(json.loads(json.dumps(frozen)))


def get_login_challenge(deps: FlowDeps, *, portal: Portal, challenge_id: str) -> LoginStatus:
    """The portal's poll; the first poll after the answer opens the login session.

    Only that first poll writes (the session and its audit event) and so takes
    the issuance (HSM); every other poll is a read that answers while the HSM
    is away (issue 17). An answer that lands between the two reads below is
    reported as pending: the next poll opens the session.
    """
    now = deps.clock()
    with deps.engine.connect() as conn:
        seen = _challenge(conn, challenge_id)
    opens_session = (
        seen.portal_identity == portal.identity
        and seen.refused_at is None
        and seen.answered_at is not None
        and seen.collected_at is None
    )
    built = deps.issuance() if opens_session else None  # never inside a transaction
    with deps.engine.begin() as conn:
        row = _challenge(conn, challenge_id)
        if row.portal_identity != portal.identity:
            raise ZorgIdError(Code.ZID_1701, f"no login challenge {challenge_id!r} for this portal")
        if row.refused_at is not None:
            return LoginStatus(
                state="refused", expires_at=row.expires_at, refusal_code=row.refusal_code
            )
        if row.answered_at is None or (built is None and row.collected_at is None):
            state = "expired" if row.expires_at <= now else "pending"
            return LoginStatus(state=state, expires_at=row.expires_at)
        assert row.certificate_id is not None  # an answer names its certificate
        cert = mobile_id_store.certificate_by_id(conn, row.certificate_id)
        if cert.status != "good" and row.collected_at is None:
            # Revoked between the answer and this first poll: no session for it (item 6).
            return LoginStatus(
                state="refused", expires_at=row.expires_at, refusal_code=Code.ZID_1704
            )
        handle = session_expires = None
        if built is not None and repo.collect_login_challenge(
            conn, challenge_id=row.id, portal_identity=portal.identity, at=now
        ):
            # The cycle stores each certificate with its person and mobile ID.
            assert cert.person_id is not None and cert.mobile_id_id is not None
            handle = secrets.token_urlsafe(32)
            session_expires = now + login_session_lifetime(built.cycle.policy)
            login_store.insert_login_session(
                conn,
                handle_sha256=sha256_hex(handle),
                portal_identity=portal.identity,
                person_id=cert.person_id,
                mobile_id_id=cert.mobile_id_id,
                certificate_id=cert.id,
                login_challenge_id=row.id,
                at=now,
                expires_at=session_expires,
            )
            audit(
                conn,
                built,
                portal.actor,
                "login.session",
                f"login:{row.id}",
                {"person_id": cert.person_id, "certificate_id": cert.id},
            )
        return LoginStatus(
            state="authenticated",
            expires_at=row.expires_at,
            session_handle=handle,
            session_expires_at=session_expires,
            person_id=cert.person_id,
            mobile_id=cert.mobile_id_id,
            certificate_id=cert.id,
            certificate_serial=cert.serial,
            attributes=_attributes_of(conn, cert.registration_id),
        )


def login_session(conn: Connection, deps: FlowDeps, *, portal: Portal, handle: str) -> LoginSession:
    """The person behind a login session handle of this portal; ZID-1709 otherwise.

    A revocation of any certificate of the mobile ID ends its sessions for
    good (``revoked_at``, set by :func:`issuer.store.repo.revoke_certificate`
    in the revocation's transaction), so a key certified again never brings
    an old session back; and the mobile ID must still have a good certificate.
    """
    now = deps.clock()
    row = login_store.find_login_session(conn, sha256_hex(handle))
    if (
        row is None
        or row.portal_identity != portal.identity
        or row.expires_at <= now
        or row.revoked_at is not None
    ):
        raise ZorgIdError(Code.ZID_1709, "no live login session for this portal")
    if not mobile_id_store.has_good_certificate(conn, row.mobile_id_id):
        raise ZorgIdError(Code.ZID_1709, "the mobile ID of this session was revoked")
    return LoginSession(
        person_id=row.person_id,
        mobile_id=row.mobile_id_id,
        certificate_id=row.certificate_id,
        expires_at=row.expires_at,
    )


def end_login_session(deps: FlowDeps, *, portal: Portal, handle: str) -> bool:
    """The portal's logout: the session ends now (its expiry set to now), audited.

    An unknown handle, another portal's or one ended already changes nothing and
    says so (False): a repeated logout is harmless and tells a caller nothing.
    """
    built = deps.issuance()  # never inside a transaction
    now = deps.clock()
    digest = sha256_hex(handle)
    with deps.engine.begin() as conn:
        row = login_store.find_login_session(conn, digest)
        if row is None or not login_store.end_login_session(
            conn, handle_sha256=digest, portal_identity=portal.identity, at=now
        ):
            return False
        audit(
            conn,
            built,
            portal.actor,
            "login.session.end",
            f"login:{row.login_challenge_id}",
            {"person_id": row.person_id, "mobile_id": row.mobile_id_id},
        )
    return True
