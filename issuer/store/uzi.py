"""The engine's SQL implementation of :class:`issuer.uzi.store.UziChallengeStore`.

Same rules as the protocol states, on the shared database (SQLite or
PostgreSQL): a challenge is consumed by one ``UPDATE ... WHERE used_at IS NULL
RETURNING ...`` so exactly one concurrent caller gets it, across processes and
machines; sessions are stored under the SHA-256 of their handle only
(ARCHITECTURE.md §8). Each call is its own short transaction.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime

import sqlalchemy as sa

from issuer.store.errors import DuplicateKeyError
from issuer.store.schema import uzi_challenges, uzi_sessions
from issuer.uzi.store import (
    ChallengeRecord,
    ChallengeState,
    UziChallengeStore,
    UziSessionRecord,
    identity_from_json,
    identity_to_json,
)


def _utc_now() -> datetime:
    return datetime.now(UTC)


class SqlUziChallengeStore:
    """:class:`UziChallengeStore` over the engine's ``uzi_challenges`` and ``uzi_sessions``.

    ``clock`` only stamps ``created_at`` (for housekeeping); every decision
    uses the times the caller passes in, as the protocol requires.
    """

    def __init__(self, engine: sa.Engine, *, clock: Callable[[], datetime] = _utc_now) -> None:
        self._engine = engine
        self._clock = clock

    def create_challenge(self, record: ChallengeRecord) -> None:
        try:
            with self._engine.begin() as conn:
                conn.execute(
                    uzi_challenges.insert().values(
                        id=record.challenge_id,
                        nonce=record.nonce,
                        portal_identity=record.portal,
                        created_at=self._clock(),
                        expires_at=record.expires_at,
                    )
                )
        except sa.exc.IntegrityError as exc:
            raise DuplicateKeyError(what="UZI challenge", key=record.challenge_id) from exc

    def consume_challenge(
        self, challenge_id: str, at: datetime, *, portal: str
    ) -> ChallengeRecord | None:
        with self._engine.begin() as conn:
            row = conn.execute(
                uzi_challenges.update()
                .where(
                    uzi_challenges.c.id == challenge_id,
                    uzi_challenges.c.portal_identity == portal,
                    uzi_challenges.c.used_at.is_(None),
                )
                .values(used_at=at)
                .returning(
                    uzi_challenges.c.nonce,
                    uzi_challenges.c.expires_at,
                    uzi_challenges.c.portal_identity,
                )
            ).first()
        if row is None:
            return None
        return ChallengeRecord(
            challenge_id=challenge_id,
            nonce=bytes(row.nonce),
            expires_at=row.expires_at,
            portal=row.portal_identity,
        )

    def challenge_state(self, challenge_id: str) -> ChallengeState:
        with self._engine.connect() as conn:
            row = conn.execute(
                sa.select(uzi_challenges.c.used_at).where(uzi_challenges.c.id == challenge_id)
            ).first()
        if row is None:
            return ChallengeState.UNKNOWN
        return ChallengeState.OPEN if row.used_at is None else ChallengeState.USED

    def create_session(self, record: UziSessionRecord) -> None:
        key = record.handle_sha256.hex()
        try:
            with self._engine.begin() as conn:
                conn.execute(
                    uzi_sessions.insert().values(
                        handle_sha256=key,
                        purpose=record.purpose,
                        portal_identity=record.portal,
                        identity=json.loads(identity_to_json(record.identity)),
                        created_at=self._clock(),
                        expires_at=record.expires_at,
                    )
                )
        except sa.exc.IntegrityError as exc:
            # The key shown is a hash, never the handle itself.
            raise DuplicateKeyError(what="UZI session", key=f"sha256:{key}") from exc

    def find_session(self, handle_sha256: bytes, at: datetime) -> UziSessionRecord | None:
        with self._engine.connect() as conn:
            row = conn.execute(
                sa.select(uzi_sessions).where(
                    uzi_sessions.c.handle_sha256 == handle_sha256.hex(),
                    uzi_sessions.c.expires_at > at,
                )
            ).first()
        if row is None:
            return None
        return UziSessionRecord(
            handle_sha256=handle_sha256,
            expires_at=row.expires_at,
            purpose=row.purpose,
            portal=row.portal_identity,
            identity=identity_from_json(json.dumps(row.identity)),
        )


def _conforms(engine: sa.Engine) -> UziChallengeStore:
    """Let mypy check that the class implements the protocol exactly."""
    return SqlUziChallengeStore(engine)
