"""Where UZI challenges and UZI sessions live: a Protocol, and a SQLite implementation.

Several engine processes share one database (architecture section 7), so a
challenge made by one process must be redeemable -- exactly once -- by any
other. Single use is enforced by the database, not by a Python lock: the
consume is one ``UPDATE ... WHERE id = ? AND used_at IS NULL`` whose row
count says whether this caller won. Only the SHA-256 of a session handle is
stored (architecture section 8: only hashes of tokens are stored), so a copy
of the database does not hand out live sessions.

The SQL implementation for PostgreSQL/SQLite of the engine proper lives in
``issuer/store/``; :class:`SqliteUziStore` here is the small reference one the
UZI tests run against.
"""

from __future__ import annotations

import enum
import json
import sqlite3
import threading
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from issuer.uzi.card import AgbCode, CardType, RoleCode, Ura, UziIdentity, UziNumber


@dataclass(frozen=True, kw_only=True)
class ChallengeRecord:
    """A challenge as stored: the nonce is not secret (it is signed in the open)."""

    challenge_id: str
    nonce: bytes = field(repr=False)
    expires_at: datetime
    portal: str


class ChallengeState(enum.StrEnum):
    UNKNOWN = "unknown"
    USED = "used"
    OPEN = "open"


@dataclass(frozen=True, kw_only=True)
class UziSessionRecord:
    """A UZI session: proof that ``identity`` held the card, for one purpose, briefly."""

    handle_sha256: bytes = field(repr=False)
    expires_at: datetime
    purpose: str
    portal: str
    identity: UziIdentity


class UziChallengeStore(Protocol):
    """Storage of challenges and UZI sessions shared by all engine processes."""

    def create_challenge(self, record: ChallengeRecord) -> None:
        """Store a new challenge; the id is unique (raise on a duplicate)."""

    def consume_challenge(self, challenge_id: str, at: datetime) -> ChallengeRecord | None:
        """Atomically mark the challenge used at ``at``; None when unknown or already used.

        Exactly one of any number of concurrent callers gets the record. An
        expired challenge is still consumed (and returned): the caller refuses
        it by ``expires_at``, and it can never be used afterwards either.
        """

    def challenge_state(self, challenge_id: str) -> ChallengeState:
        """Why a consume failed (unknown or used); only for choosing the error code."""

    def create_session(self, record: UziSessionRecord) -> None:
        """Store a UZI session under the SHA-256 of its handle."""

    def find_session(self, handle_sha256: bytes, at: datetime) -> UziSessionRecord | None:
        """The session with this handle hash if it has not expired at ``at``."""


def _ts(at: datetime) -> str:
    if at.tzinfo is None:
        raise ValueError(f"got naive datetime {at!r}; expected an aware UTC datetime")
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _from_ts(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS uzi_challenge (
        id TEXT PRIMARY KEY,
        nonce BLOB NOT NULL,
        expires_at TEXT NOT NULL,
        portal TEXT NOT NULL,
        used_at TEXT
    )""",
    """CREATE TABLE IF NOT EXISTS uzi_session (
        handle_sha256 BLOB PRIMARY KEY,
        expires_at TEXT NOT NULL,
        purpose TEXT NOT NULL,
        portal TEXT NOT NULL,
        identity TEXT NOT NULL
    )""",
)


def identity_to_json(identity: UziIdentity) -> str:
    return json.dumps(asdict(identity), sort_keys=True)


def identity_from_json(text: str) -> UziIdentity:
    raw = json.loads(text)
    return UziIdentity(
        uzi_number=UziNumber(raw["uzi_number"]),
        card_type=CardType(raw["card_type"]),
        subscriber_number=Ura(raw["subscriber_number"]),
        role=RoleCode(raw["role"]),
        agb_code=AgbCode(raw["agb_code"]),
        given_name=raw["given_name"],
        surname=raw["surname"],
        common_name=raw["common_name"],
        title=raw["title"],
        organization=raw["organization"],
    )


class SqliteUziStore:
    """:class:`UziChallengeStore` on a SQLite file (several processes may open it)."""

    def __init__(self, path: Path | str) -> None:
        self._path = str(path)
        self._local = threading.local()
        with self._conn() as conn:
            for statement in _SCHEMA:
                conn.execute(statement)

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self._path, timeout=30, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA busy_timeout=30000")
            # WAL + NORMAL: a commit survives a process crash; only a power loss can
            # lose the last commits (SQLite docs, "WAL mode" / "synchronous").
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
        return conn

    def create_challenge(self, record: ChallengeRecord) -> None:
        self._conn().execute(
            "INSERT INTO uzi_challenge (id, nonce, expires_at, portal) VALUES (?, ?, ?, ?)",
            (record.challenge_id, record.nonce, _ts(record.expires_at), record.portal),
        )

    def consume_challenge(self, challenge_id: str, at: datetime) -> ChallengeRecord | None:
        conn = self._conn()
        cur = conn.execute(
            "UPDATE uzi_challenge SET used_at = ? WHERE id = ? AND used_at IS NULL",
            (_ts(at), challenge_id),
        )
        if cur.rowcount != 1:  # unknown, or another caller consumed it first
            return None
        row = conn.execute(
            "SELECT nonce, expires_at, portal FROM uzi_challenge WHERE id = ?", (challenge_id,)
        ).fetchone()
        if row is None:
            return None
        return ChallengeRecord(
            challenge_id=challenge_id, nonce=row[0], expires_at=_from_ts(row[1]), portal=row[2]
        )

    def challenge_state(self, challenge_id: str) -> ChallengeState:
        row = (
            self._conn()
            .execute("SELECT used_at FROM uzi_challenge WHERE id = ?", (challenge_id,))
            .fetchone()
        )
        if row is None:
            return ChallengeState.UNKNOWN
        return ChallengeState.OPEN if row[0] is None else ChallengeState.USED

    def create_session(self, record: UziSessionRecord) -> None:
        self._conn().execute(
            "INSERT INTO uzi_session (handle_sha256, expires_at, purpose, portal, identity)"
            " VALUES (?, ?, ?, ?, ?)",
            (
                record.handle_sha256,
                _ts(record.expires_at),
                record.purpose,
                record.portal,
                identity_to_json(record.identity),
            ),
        )

    def find_session(self, handle_sha256: bytes, at: datetime) -> UziSessionRecord | None:
        row = (
            self._conn()
            .execute(
                "SELECT expires_at, purpose, portal, identity FROM uzi_session"
                " WHERE handle_sha256 = ? AND expires_at > ?",
                (handle_sha256, _ts(at)),
            )
            .fetchone()
        )
        if row is None:
            return None
        return UziSessionRecord(
            handle_sha256=handle_sha256,
            expires_at=_from_ts(row[0]),
            purpose=row[1],
            portal=row[2],
            identity=identity_from_json(row[3]),
        )
