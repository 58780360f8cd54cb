"""Where UZI challenges and UZI sessions live: the Protocol and its records.

Several engine processes share one database (architecture section 7), so a
challenge made by one process must be redeemable -- exactly once -- by any
other. Single use is enforced by the database, not by a Python lock: the
consume is one ``UPDATE ... WHERE id = ? AND used_at IS NULL`` whose row
count says whether this caller won. Only the SHA-256 of a session handle is
stored (architecture section 8: only hashes of tokens are stored), so a copy
of the database does not hand out live sessions.

The implementation is the engine's SQL store,
:class:`issuer.store.uzi.SqlUziChallengeStore` (SQLite and PostgreSQL); it
lives in ``issuer/store/`` because this package must not depend on the storage
layer (the verifier takes any object that fits the Protocol).
"""

from __future__ import annotations

import enum
import json
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Protocol

from issuer.uzi.card import UziIdentity
from issuer.uzi_vocabulary import AgbCode, CardType, RoleCode, Ura, UziNumber


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

    def consume_challenge(
        self, challenge_id: str, at: datetime, *, portal: str
    ) -> ChallengeRecord | None:
        """Atomically mark the challenge used at ``at``; None when unknown or already used.

        Only a challenge made for ``portal`` is consumed: another portal's
        attempt leaves it open (None), so no portal can burn another's
        challenge (issue 16 item 11).

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
