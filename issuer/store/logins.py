"""Login challenges and login sessions (flow 3): ``login_challenges``, ``login_sessions``.

A challenge is answered once and collected once; those two conditional
updates are :func:`issuer.store.repo.answer_login_challenge` and
:func:`issuer.store.repo.collect_login_challenge`. A session is stored under
the SHA-256 of its handle only; a revocation of any certificate of its mobile
ID ends it (``revoked_at``, :func:`issuer.store.repo.revoke_certificate`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from issuer.store.records import record_or_none
from issuer.store.schema import login_challenges, login_sessions


@dataclass(frozen=True, kw_only=True)
class LoginChallengeRecord:
    """A ``login_challenges`` row."""

    id: str
    nonce: bytes
    portal_identity: str
    created_at: datetime
    expires_at: datetime
    answered_at: datetime | None
    certificate_id: str | None
    signature: bytes | None
    collected_at: datetime | None
    portal_name: str | None
    refused_at: datetime | None
    refusal_code: str | None


@dataclass(frozen=True, kw_only=True)
class LoginSessionRecord:
    """A ``login_sessions`` row."""

    handle_sha256: str
    portal_identity: str
    person_id: str
    mobile_id_id: str
    certificate_id: str
    login_challenge_id: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None


def insert_login_challenge(
    conn: sa.Connection,
    *,
    challenge_id: str,
    nonce: bytes,
    portal_identity: str,
    portal_name: str,
    at: datetime,
    expires_at: datetime,
) -> None:
    """A new, unanswered login challenge of *portal_identity*."""
    conn.execute(
        login_challenges.insert().values(
            id=challenge_id,
            nonce=nonce,
            portal_identity=portal_identity,
            portal_name=portal_name,
            created_at=at,
            expires_at=expires_at,
        )
    )


def find_login_challenge(conn: sa.Connection, challenge_id: str) -> LoginChallengeRecord | None:
    """The login challenge of this id, or None."""
    row = conn.execute(
        sa.select(login_challenges).where(login_challenges.c.id == challenge_id)
    ).first()
    return record_or_none(LoginChallengeRecord, row)


def refuse_login_challenge(
    conn: sa.Connection, *, challenge_id: str, code: str, at: datetime
) -> None:
    """End a challenge neither answered nor refused yet with the refusal *code*."""
    conn.execute(
        login_challenges.update()
        .where(
            login_challenges.c.id == challenge_id,
            login_challenges.c.answered_at.is_(None),
            login_challenges.c.refused_at.is_(None),
        )
        .values(refused_at=at, refusal_code=code)
    )


def insert_login_session(
    conn: sa.Connection,
    *,
    handle_sha256: str,
    portal_identity: str,
    person_id: str,
    mobile_id_id: str,
    certificate_id: str,
    login_challenge_id: str,
    at: datetime,
    expires_at: datetime,
) -> None:
    """A login session, stored under its handle's SHA-256 only."""
    conn.execute(
        login_sessions.insert().values(
            handle_sha256=handle_sha256,
            portal_identity=portal_identity,
            person_id=person_id,
            mobile_id_id=mobile_id_id,
            certificate_id=certificate_id,
            login_challenge_id=login_challenge_id,
            created_at=at,
            expires_at=expires_at,
        )
    )


def find_login_session(conn: sa.Connection, handle_sha256: str) -> LoginSessionRecord | None:
    """The login session of this handle digest, or None."""
    row = conn.execute(
        sa.select(login_sessions).where(login_sessions.c.handle_sha256 == handle_sha256)
    ).first()
    return record_or_none(LoginSessionRecord, row)


def end_login_session(
    conn: sa.Connection, *, handle_sha256: str, portal_identity: str, at: datetime
) -> bool:
    """End a live session of this portal now (its expiry becomes ``at``); False if none."""
    ended = conn.execute(
        login_sessions.update()
        .where(
            login_sessions.c.handle_sha256 == handle_sha256,
            login_sessions.c.portal_identity == portal_identity,
            login_sessions.c.expires_at > at,
            login_sessions.c.revoked_at.is_(None),
        )
        .values(expires_at=at)
    )
    return ended.rowcount == 1
