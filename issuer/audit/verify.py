"""Verifying the whole audit chain and its signed checkpoints.

What each check catches (docs/audit.md):

- a *changed* event: its recomputed hash differs from the stored one, or (if
  the attacker also rewrote the hash) the next event's ``prev_hash`` or a
  signed checkpoint disagrees;
- a *removed* event: a gap in ``seq``, or a ``prev_hash`` that does not match;
- *reordered* events: ``seq`` is inside each hash, so moving rows breaks the chain;
- a *truncated* tail: the head row or a signed checkpoint names a later event
  than the last one present; an auditor can also pass the head seen last time
  (``known_head``) for the case where head and checkpoints were cut as well.

The first bad event is named; verification streams events, so memory stays
flat for long logs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from issuer.audit import keys
from issuer.audit.encoding import GENESIS_HASH, checkpoint_message, event_hash
from issuer.store import Connection, Engine
from issuer.store import audit as store
from issuer.store.audit import Row
from issuer.store.types import to_utc_text

STREAM_CHUNK = 1000
PROGRESS_EVERY = 100
"""Events between two calls of a ``progress`` callback (drawing costs more than checking)."""


@dataclass(frozen=True, kw_only=True)
class VerifyResult:
    """The outcome of :func:`verify_chain`.

    ``ok`` is true only when every event, the head and every checkpoint agree.
    Otherwise ``first_bad_seq`` names the first event that is wrong or missing
    and ``problem`` says what was found, what was expected and what to do.
    """

    ok: bool
    events_checked: int
    checkpoints_checked: int
    last_seq: int
    last_hash: str
    first_bad_seq: int | None = None
    problem: str | None = None
    last_checkpoint_seq: int | None = None
    """The newest signed checkpoint (``None``: there is none)."""
    last_checkpoint_at: datetime | None = None
    """When it was signed."""
    events_after_checkpoint: int = 0
    """Events after the last checkpoint: only the chain vouches for them, so a rewrite
    of these (hashes recomputed) is not detectable until the next checkpoint."""


def _fail(
    problem: str, *, bad: int | None, events: int, checkpoints: int, last_seq: int, last_hash: str
) -> VerifyResult:
    return VerifyResult(
        ok=False,
        events_checked=events,
        checkpoints_checked=checkpoints,
        last_seq=last_seq,
        last_hash=last_hash,
        first_bad_seq=bad,
        problem=problem,
    )


def verify_chain(
    engine: Engine | Connection,
    public_key: keys.CheckpointVerifier | None,
    *,
    known_head: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> VerifyResult:
    """Check the whole chain, the head row and every checkpoint signature.

    ``public_key`` is the audit checkpoint public key; ``None`` checks the chain
    only and reports checkpoints as unverified problems if any exist, because
    an unchecked signature proves nothing. ``known_head`` is the last seq an
    auditor saw before (a lower bound for the chain's length). ``progress``
    gets ``(events checked, head seq)`` as the walk goes (a CLI bar). Given a
    connection, the caller's transaction must give one consistent snapshot
    (REPEATABLE READ on PostgreSQL; any SQLite transaction).
    """
    if isinstance(engine, Connection):
        return _verify(engine, public_key, known_head, progress)
    with store.snapshot(engine) as conn:
        # One snapshot for head, checkpoints and events: appends that commit
        # while we stream must not look like a head/chain mismatch.
        return _verify(conn, public_key, known_head, progress)


def _verify(
    conn: Connection,
    public_key: keys.CheckpointVerifier | None,
    known_head: int | None,
    progress: Callable[[int, int], None] | None = None,
) -> VerifyResult:
    checkpoints = store.checkpoints(conn)
    head = store.head(conn)
    expected_key = keys.key_sha256(public_key) if public_key is not None else None

    # Checkpoint signatures first: a checkpoint that does not verify cannot vouch for anything.
    for cp in checkpoints.values():
        if public_key is None:
            return _fail(
                f"checkpoint at seq {cp.seq} cannot be checked without the audit public key; "
                "pass --public-key (<data_dir>/ca/audit-checkpoint.pub.pem)",
                bad=None, events=0, checkpoints=0, last_seq=0, last_hash=GENESIS_HASH,
            )  # fmt: skip
        if cp.key_sha256 != expected_key:
            return _fail(
                f"checkpoint at seq {cp.seq} was signed by key {cp.key_sha256}, expected the "
                f"audit key {expected_key}: check that the right public key was given; "
                "otherwise the checkpoint is forged",
                bad=cp.seq, events=0, checkpoints=0, last_seq=0, last_hash=GENESIS_HASH,
            )  # fmt: skip
        message = checkpoint_message(
            seq=cp.seq,
            chain_hash=cp.hash,
            signed_at=to_utc_text(cp.signed_at),
            key_sha256=cp.key_sha256,
        )
        if not keys.verify(public_key, cp.signature, message):
            return _fail(
                f"checkpoint at seq {cp.seq} has a signature that does not verify under the "
                "audit key: the checkpoint was altered or forged; restore it from backup",
                bad=cp.seq, events=0, checkpoints=0, last_seq=0, last_hash=GENESIS_HASH,
            )  # fmt: skip

    walk = _Walk()
    total = int(head.seq) if head is not None else 0
    problem = _walk_events(conn, checkpoints, walk, progress, total)
    if problem is None:
        problem = _check_end(walk, checkpoints, head, known_head)
    if problem is not None:
        text, bad = problem
        return _fail(
            text, bad=bad, events=walk.count, checkpoints=walk.matched,
            last_seq=walk.seq, last_hash=walk.hash,
        )  # fmt: skip
    last = checkpoints[max(checkpoints)] if checkpoints else None
    return VerifyResult(
        ok=True,
        events_checked=walk.count,
        checkpoints_checked=walk.matched,
        last_seq=walk.seq,
        last_hash=walk.hash,
        last_checkpoint_seq=None if last is None else last.seq,
        last_checkpoint_at=None if last is None else last.signed_at,
        events_after_checkpoint=walk.seq - (0 if last is None else last.seq),
    )


@dataclass(kw_only=True)
class _Walk:
    """How far the walk along the chain got (the last good event)."""

    seq: int = 0
    hash: str = GENESIS_HASH
    count: int = 0
    matched: int = 0


def _walk_events(
    conn: Connection,
    checkpoints: dict[int, Row],
    walk: _Walk,
    progress: Callable[[int, int], None] | None = None,
    total: int = 0,
) -> tuple[str, int] | None:
    with store.events(conn, STREAM_CHUNK) as rows:
        for row in rows:
            problem = _check_event(row, checkpoints, walk)
            if problem is not None:
                return problem
            walk.seq, walk.hash = row.seq, row.hash
            walk.count += 1
            if progress is not None and walk.count % PROGRESS_EVERY == 0:
                progress(walk.count, total)
    if progress is not None:
        progress(walk.count, total)
    return None


def _check_event(row: Row, checkpoints: dict[int, Row], walk: _Walk) -> tuple[str, int] | None:
    expected_seq = walk.seq + 1
    if row.seq != expected_seq:
        return (
            f"event {expected_seq} is missing: after event {walk.seq} the next event is "
            f"{row.seq}; events were removed or renumbered",
            expected_seq,
        )
    if row.prev_hash != walk.hash:
        return (
            f"event {row.seq} does not follow event {walk.seq}: its prev_hash is "
            f"{row.prev_hash}, expected {walk.hash}; an event was changed, removed or reordered",
            row.seq,
        )
    recomputed = event_hash(
        seq=row.seq,
        occurred_at=to_utc_text(row.occurred_at),
        actor_role=row.actor_role,
        actor_identity=row.actor_identity,
        action=row.action,
        subject=row.subject,
        outcome=row.outcome,
        details=row.details,
        prev_hash=row.prev_hash,
    )
    if recomputed != row.hash:
        return (
            f"event {row.seq} was changed: its stored hash is {row.hash} but its fields "
            f"hash to {recomputed}",
            row.seq,
        )
    cp = checkpoints.get(row.seq)
    if cp is not None:
        if cp.hash != row.hash:
            return (
                f"event {row.seq} disagrees with its signed checkpoint: the chain hash is "
                f"{row.hash}, the checkpoint signed {cp.hash}; the chain up to event "
                f"{row.seq} was rewritten",
                row.seq,
            )
        walk.matched += 1
    return None


def _check_end(
    walk: _Walk,
    checkpoints: dict[int, Row],
    head: Row | None,
    known_head: int | None,
) -> tuple[str, int] | None:
    last = walk.seq
    later = [s for s in checkpoints if s > last]
    if later:
        return (
            f"the chain ends at event {last} but a signed checkpoint covers event "
            f"{max(later)}: events {last + 1}..{max(later)} were cut off (truncated)",
            last + 1,
        )
    if head is None:
        return (
            "the audit_head row is missing; expected it to record the end of the chain: "
            "the log was tampered with",
            last + 1,
        )
    if head.seq > last:
        return (
            f"the chain ends at event {last} but the head records event {head.seq}: "
            f"events {last + 1}..{head.seq} were cut off (truncated)",
            last + 1,
        )
    if head.seq != last or head.hash != walk.hash:
        return (
            f"the head records event {head.seq} with hash {head.hash}, but the chain ends at "
            f"event {last} with hash {walk.hash}: the head was altered or events were added "
            "outside the engine",
            min(head.seq + 1, last),
        )
    if known_head is not None and known_head > last:
        return (
            f"the chain ends at event {last} but event {known_head} was seen before: "
            f"events {last + 1}..{known_head} were cut off (truncated)",
            last + 1,
        )
    return None
