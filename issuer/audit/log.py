"""Appending to the hash-chained audit log, inside the caller's transaction.

Why inside the caller's transaction: a state change and the event that records
it must land together or not at all (a revocation without its event, or an
event for a rollback, would both make the log lie). So :meth:`AuditLog.append`
takes the caller's connection (:data:`issuer.store.Connection`) and never commits.
The statements are :mod:`issuer.store.audit`.

Why a head row: each event's hash covers the previous hash, so appends must be
serialised across every engine process sharing the database. The single row of
``audit_head`` is that serialisation point: on PostgreSQL it is read with
``SELECT ... FOR UPDATE`` (row lock held to commit; READ COMMITTED then reads the
latest committed head); on SQLite every transaction of an engine made by
:func:`issuer.store.create_engine_for` starts with ``BEGIN IMMEDIATE``, which
already holds the database write lock. The head also records where the chain
ends, so a cut-off tail is visible even between checkpoints. An append first
tries to move the head on from the head this :class:`AuditLog` last wrote
(``UPDATE ... WHERE seq = :old AND hash = :old``, which takes the same row lock
and proves the guess against the database); only when that matches no row is
the head read as above (see ``AuditLog._head``).

Why checkpoints: anyone who can write the database can rewrite the whole chain
and recompute every hash. A checkpoint is "the chain had hash H at seq N",
signed by the audit key in the HSM; a rewrite or truncation before the last
checkpoint is then detectable by :func:`issuer.audit.verify_chain`. They are
made every ``checkpoint_every`` events, by a running server's
:class:`CheckpointTimer` (on a timer when events were appended, and at
shutdown), and on demand (``zorgid audit checkpoint``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from issuer.audit import keys
from issuer.audit.encoding import JsonValue, canonical_details, checkpoint_message, event_hash
from issuer.audit.errors import AuditError
from issuer.store import Connection, Engine
from issuer.store import audit as store
from issuer.store.audit import events_after_checkpoint
from issuer.store.transactions import read_transaction, write_transaction
from issuer.store.types import to_utc_text

log = logging.getLogger(__name__)

OUTCOMES = frozenset({"success", "failure", "refused"})
"""What happened: done, tried and failed, or refused by a rule (bad input, role, policy)."""

DEFAULT_CHECKPOINT_EVERY = 1000
"""Events between automatic checkpoints: bounds what an undetected rewrite could cover."""


_LIMITS = store.FIELD_LIMITS


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, kw_only=True)
class AuditEvent:
    """One state change to record: who did what, to what, with which outcome.

    ``actor_role`` is the caller's role (``portal``, ``operator``, ... or
    ``engine`` for the engine's own acts) and ``actor_identity`` the identity
    from the verified client certificate or login session; ``subject`` names
    what was acted on (e.g. ``certificate:<issuer>:<serial>``). ``details``
    holds plain JSON data and never a secret (see :func:`canonical_details`).
    """

    actor_role: str
    actor_identity: str
    action: str
    subject: str
    outcome: str = "success"
    details: Mapping[str, JsonValue] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise AuditError(
                f"got audit outcome {self.outcome!r}; expected one of {sorted(OUTCOMES)}"
            )
        for name in ("actor_role", "actor_identity", "action", "subject"):
            value: str = getattr(self, name)
            if not value:
                raise AuditError(
                    f"audit event field {name} is empty; expected who/what/on-what to be named"
                )
            # PostgreSQL enforces VARCHAR lengths and SQLite does not: check here so
            # an event is refused the same way on both, before anything is written.
            limit = _LIMITS[name]
            if len(value) > limit:
                raise AuditError(
                    f"audit event field {name} is {len(value)} characters, expected at most "
                    f"{limit}: name the subject by id and put the rest in details"
                )


@dataclass(frozen=True, kw_only=True)
class AppendedEvent:
    """Where an event landed in the chain."""

    seq: int
    hash: str
    occurred_at: datetime


@dataclass(frozen=True, kw_only=True)
class Checkpoint:
    """A signed statement that the chain had ``hash`` at ``seq``."""

    seq: int
    hash: str
    signed_at: datetime
    key_sha256: str
    signature: bytes = field(repr=False)


class AuditLog:
    """Appends events and signs checkpoints; one instance per process is enough.

    ``signer`` is the audit checkpoint key (an HSM key object in production);
    without it events are still chained but no checkpoints are made, which only
    tests and development should do. ``checkpoint_every`` events (counted by
    seq, so across all processes) the append that reaches a multiple signs a
    checkpoint in the same transaction. ``clock`` is injected so tests move
    time instead of sleeping.
    """

    def __init__(
        self,
        *,
        signer: keys.CheckpointSigner | None = None,
        checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        if checkpoint_every < 1:
            raise ValueError(
                f"got checkpoint_every={checkpoint_every}; expected a positive number of events"
            )
        self._signer = signer
        self._key_sha256 = keys.key_sha256(signer.public_key()) if signer is not None else None
        self._every = checkpoint_every
        self._clock = clock
        self._head: tuple[int, str] | None = None
        """The head this instance last wrote: a guess, never trusted without the database.

        Why: reading the head (``SELECT ... FOR UPDATE``) is one statement of
        every append, and while one process appends alone the head is almost
        always the one it wrote last. :meth:`append` chains onto the guess and
        moves the head with ``UPDATE ... WHERE seq = :old_seq AND hash = :old_hash``:
        inside the write transaction (SQLite's write lock, PostgreSQL's row
        lock, re-checked after a concurrent commit under READ COMMITTED) a row
        count of 1 proves the database head WAS the guess, so the event chains
        onto the committed truth. Any other process's append, a rolled-back
        transaction or savepoint, or a tampered head gives row count 0 and the
        append reads the head as before. Plain tuple assignment: a racing
        thread can only make the guess wrong, which the check catches.
        """

    def append(self, conn: Connection, event: AuditEvent) -> AppendedEvent:
        """Append *event* in *conn*'s transaction (not committed here) and return its place."""
        details = canonical_details(event.details)
        occurred_at = self._clock()
        occurred_text = to_utc_text(occurred_at)

        def chained(prev_seq: int, prev_hash: str) -> tuple[int, str]:
            seq = prev_seq + 1
            return seq, event_hash(
                seq=seq,
                occurred_at=occurred_text,
                actor_role=event.actor_role,
                actor_identity=event.actor_identity,
                action=event.action,
                subject=event.subject,
                outcome=event.outcome,
                details=details,
                prev_hash=prev_hash,
            )

        # The head moves first (it is the lock every appender takes first), then the
        # event is inserted; both in the caller's transaction, so neither lands alone.
        guess = self._head
        advanced = False
        if guess is not None:
            prev_seq, prev_hash = guess
            seq, digest = chained(prev_seq, prev_hash)
            advanced = store.advance_head(
                conn, old=(prev_seq, prev_hash), new=(seq, digest), at=occurred_at
            )
        if not advanced:
            prev_seq, prev_hash = self._lock_head(conn)
            seq, digest = chained(prev_seq, prev_hash)
            store.set_head(conn, seq=seq, hash=digest, at=occurred_at)
        store.insert_event(
            conn,
            {
                "seq": seq,
                "occurred_at": occurred_at,
                "actor_role": event.actor_role,
                "actor_identity": event.actor_identity,
                "action": event.action,
                "subject": event.subject,
                "outcome": event.outcome,
                "details": details,
                "prev_hash": prev_hash,
                "hash": digest,
            },
        )
        self._head = (seq, digest)
        if self._signer is not None and seq % self._every == 0:
            self._sign_checkpoint(conn, seq, digest)
        return AppendedEvent(seq=seq, hash=digest, occurred_at=occurred_at)

    def checkpoint(self, conn: Connection) -> Checkpoint | None:
        """Sign a checkpoint of the current head now (on demand); ``None`` for an empty chain.

        Idempotent: when the head already has a checkpoint, that one is returned.
        """
        if self._signer is None:
            raise AuditError(
                "an on-demand audit checkpoint needs the audit key; got an AuditLog without "
                "signer: construct it with signer=<the HSM audit key>"
            )
        seq, digest = self._lock_head(conn)
        if seq == 0:
            return None
        existing = store.checkpoint_at(conn, seq)
        if existing is not None:
            return Checkpoint(
                seq=existing.seq,
                hash=existing.hash,
                signed_at=existing.signed_at,
                key_sha256=existing.key_sha256,
                signature=existing.signature,
            )
        return self._sign_checkpoint(conn, seq, digest)

    def _lock_head(self, conn: Connection) -> tuple[int, str]:
        head = store.lock_head(conn)
        if head is None:
            raise AuditError(
                "the audit_head row is missing; expected the row made by the first migration: "
                "run `zorgid db upgrade --config FILE`, and if it persists, treat the audit "
                "log as tampered with and run `zorgid audit verify`"
            )
        return head

    def _sign_checkpoint(self, conn: Connection, seq: int, digest: str) -> Checkpoint:
        assert self._signer is not None and self._key_sha256 is not None
        signed_at = self._clock()
        message = checkpoint_message(
            seq=seq,
            chain_hash=digest,
            signed_at=to_utc_text(signed_at),
            key_sha256=self._key_sha256,
        )
        signature = keys.sign(self._signer, message)
        store.insert_checkpoint(
            conn,
            seq=seq,
            hash=digest,
            signed_at=signed_at,
            key_sha256=self._key_sha256,
            signature=signature,
        )
        log.info("audit checkpoint signed at seq %d", seq)
        return Checkpoint(
            seq=seq,
            hash=digest,
            signed_at=signed_at,
            key_sha256=self._key_sha256,
            signature=signature,
        )


DEFAULT_CHECKPOINT_INTERVAL = 60.0
"""Seconds between checkpoint passes of a running engine (config ``[audit]``)."""


class CheckpointTimer:
    """Signs a checkpoint of the head every ``interval`` seconds if events were appended
    since the last one, and once more when stopped (a server's shutdown).

    Why: checkpoints every ``checkpoint_every`` events alone left a quiet engine's
    newest events unsigned indefinitely (700 events, no checkpoint, in a dev
    run), and an unsigned stretch can be rewritten and its hashes recomputed
    without :func:`~issuer.audit.verify_chain` noticing (issue 16, item 10). A
    pass is one read while nothing was appended; signing happens under the head
    lock and is idempotent, so every engine process may run a timer.

    ``signer`` is called on the first pass that has something to sign (the
    HSM may be away at start) and again after a failure; failures are logged
    and retried at the next pass, never raised into the server.
    """

    def __init__(
        self,
        *,
        engine: Engine,
        signer: Callable[[], keys.CheckpointSigner],
        interval: float = DEFAULT_CHECKPOINT_INTERVAL,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        if interval <= 0:
            raise ValueError(f"got interval={interval}; expected a positive number of seconds")
        self._engine = engine
        self._signer = signer
        self._interval = interval
        self._clock = clock
        self._log: AuditLog | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="audit-checkpoint", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float | None = 30.0) -> None:
        """End the timer, then sign the last stretch (called after the server drained)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        self._pass("at shutdown")

    def tick(self) -> Checkpoint | None:
        """One pass: sign a checkpoint of the head if events lie after the last one."""
        with read_transaction(self._engine) as conn:
            behind = events_after_checkpoint(conn)
        if behind == 0:
            return None
        if self._log is None:
            self._log = AuditLog(signer=self._signer(), clock=self._clock)
        with write_transaction(self._engine) as conn:
            return self._log.checkpoint(conn)

    def _pass(self, when: str) -> None:
        try:
            self.tick()
        except Exception as exc:  # a down HSM or database must not stop the server
            self._log = None  # open the key again next time
            log.warning(
                "audit checkpoint %s failed (%s: %s); retrying in %.0f s",
                when,
                type(exc).__name__,
                exc,
                self._interval,
            )

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self._pass("on the timer")
