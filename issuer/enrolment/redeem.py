"""Redeeming a registration QR exactly once: ``RedeemEnrollment(token, csr)``.

Why a claim and not one big transaction: signing takes the HSM's time and
must not hold a database lock, and the engine runs as several processes on
one PostgreSQL. So the token is *claimed* first with one conditional
``UPDATE registrations SET token_used_at = :now, csr_sha256 = :csr WHERE
token_used_at IS NULL AND ...`` -- of any number of concurrent callers, in
any number of processes, exactly one sees row count 1 (PostgreSQL re-checks
the WHERE after the competing commit; SQLite has one writer). The claim
records the CSR's digest, so:

- a retry (or concurrent call) with the SAME CSR waits briefly for the winner
  and gets the same certificate (idempotent, as the phone's network may drop
  the first answer);
- a DIFFERENT CSR is refused (ZID-1303) and counted as a failed attempt;
- a winner that crashed leaves a claim without a certificate; after
  :attr:`Redeemer.lease` a retry with the same CSR takes the claim over with
  another conditional UPDATE on the old claim time, and the crashed winner --
  should it come back -- can no longer finish: step 4 writes the certificate
  only WHERE the claim time is still its own. Never two certificates.

A token's failed attempts (bad CSR, weak key, a key of another person, a
different CSR) are counted and, at the policy's
``enrolment.max_failed_attempts``, the token is blocked (ZID-1304): a stolen
QR cannot be tried forever. The limit is exact under concurrency: a CSR is
evaluated under the token's attempt lock, which re-reads the count, evaluates
and counts a refusal before it is let go (:meth:`Redeemer._check`), so of any
number of concurrent bad attempts exactly the limit are evaluated.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final, NoReturn

from issuer.audit import AuditEvent
from issuer.enrolment.create import attrs_from_json
from issuer.enrolment.tokens import token_sha256
from issuer.errors import Code, ZorgIdError
from issuer.issuance.cycle import IssuanceCycle
from issuer.issuance.records import (
    Actor,
    Begin,
    CheckedRequest,
    IssuanceRequest,
    IssuedCertificate,
)
from issuer.profile.csr import CSR_CODES
from issuer.store import Connection, is_sqlite
from issuer.store import enrolments as store
from issuer.store.enrolments import TokenRead, TokenRegistration
from issuer.store.transactions import lock_audit_head, write_transaction

_LOG = logging.getLogger(__name__)

DEFAULT_LEASE = timedelta(seconds=30)
"""How long a claim without a certificate belongs to its winner: well above one
issuance (milliseconds) and a gRPC deadline, so only a dead winner loses it."""
DEFAULT_WAIT_SECONDS = 10.0
"""How long a same-CSR retry waits for a running winner before ZID-1305 (retry)."""
POLL_SECONDS = 0.01

FAILED_ATTEMPT_CODES: Final = CSR_CODES | {Code.ZID_1202, Code.ZID_1203, Code.ZID_1850}
"""Refusals that are the caller's doing (the CSR or its key, ZID-1850 a key revoked as
compromised): each is a failed attempt."""


_ATTEMPT_LOCK_LABEL = b"zorgid:enrolment-attempt:"
"""Namespace of the lock keys of a registration's attempts."""
SQLITE_ATTEMPT_SLOTS: Final = 64
"""Lock files of the SQLite attempt locks: two tokens in one slot only take turns."""


def _attempt_key(registration_id: str) -> bytes:
    return hashlib.sha256(_ATTEMPT_LOCK_LABEL + registration_id.encode()).digest()


class AttemptLocks:
    """One attempt at a time per registration on an SQLite database, across threads and
    processes, without holding the database's one write lock.

    Why not the write transaction: step 1 (CSR parse, signature check) inside it
    kept every other writer of the database waiting for it, on every redemption.
    A registration maps to one of :data:`SQLITE_ATTEMPT_SLOTS` lock files in
    ``<database>.attempt-locks/``; each hold opens its slot's file and takes
    an ``flock``, which excludes other open files of it in this and any other
    process, and ends with the close (also when a process dies). Without a
    file (an in-memory database, or PostgreSQL's in-process queue in front of
    its advisory lock): one thread lock per slot, this process only.
    """

    def __init__(self, database: str | None) -> None:
        self._folder = (
            Path(f"{database}.attempt-locks") if database and database != ":memory:" else None
        )
        self._threads = [threading.Lock() for _ in range(SQLITE_ATTEMPT_SLOTS)]

    @contextlib.contextmanager
    def hold(self, registration_id: str) -> Iterator[None]:
        slot = int.from_bytes(_attempt_key(registration_id)[:2], "big") % SQLITE_ATTEMPT_SLOTS
        if self._folder is None:
            with self._threads[slot]:
                yield
            return
        self._folder.mkdir(mode=0o700, exist_ok=True)
        fd = os.open(self._folder / str(slot), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # releases the flock


class _NotClaimed(Exception):
    """Another caller claimed the token first (nothing of ours was claimed or reserved)."""


class _ClaimLost(Exception):
    """Step 4 found the claim taken over: roll back, let the new owner finish."""


@dataclass(frozen=True, kw_only=True)
class Redemption:
    """The certificate for a token; ``replayed`` when an earlier call had issued it."""

    certificate: IssuedCertificate
    replayed: bool


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Redeemer:
    """Redeems enrolment tokens through an :class:`IssuanceCycle` (thread-safe)."""

    def __init__(
        self,
        cycle: IssuanceCycle,
        *,
        lease: timedelta = DEFAULT_LEASE,
        wait_seconds: float = DEFAULT_WAIT_SECONDS,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.cycle = cycle
        self.engine = cycle.engine
        self.lease = lease
        self.wait_seconds = wait_seconds
        self.clock = clock or cycle.clock
        self._read_token = TokenRead(self.engine)
        self._sqlite_locks = (
            AttemptLocks(self.engine.url.database) if is_sqlite(self.engine) else None
        )
        self._pg_waiting = AttemptLocks(None)
        """PostgreSQL: this process's threads queue here, not on the advisory lock, so
        a burst on one token waits holding one pooled connection, not the whole pool."""

    @property
    def max_failed(self) -> int:
        return self.cycle.policy.enrolment.max_failed_attempts

    def redeem(self, token: str, csr: bytes, *, actor: Actor) -> Redemption:
        """Issue (once) the certificate a registration QR promises; see module doc."""
        digest = token_sha256(token)
        csr_sha = hashlib.sha256(csr).hexdigest()
        deadline = time.monotonic() + self.wait_seconds
        while True:
            row = self._read(digest)
            now = self.clock()
            if row is None or row.state not in ("confirmed", "redeemed"):
                raise ZorgIdError(Code.ZID_1301, "no redeemable registration for this token")
            if row.certificate_id is not None:
                if row.csr_sha256 == csr_sha:
                    cert = self.cycle.load(row.certificate_id)
                    if cert is None:
                        raise ZorgIdError(
                            Code.ZID_0001, "redeemed registration lost its certificate"
                        )
                    return Redemption(certificate=cert, replayed=True)
                self._refuse(row, actor, Code.ZID_1303, "the token was redeemed already")
            if row.token_used_at is None:
                if row.failed_attempts >= self.max_failed:
                    raise self._blocked(row.failed_attempts)  # rechecked under the lock in _check
                if row.token_expires_at <= now:
                    raise ZorgIdError(
                        Code.ZID_1302, f"the token expired at {row.token_expires_at.isoformat()}"
                    )
                try:
                    checked = self._check(digest, row, csr, actor)
                    return self._issue(
                        row, checked, claimed_at=now, claim=self._claim(row.id, csr_sha, now)
                    )
                except _NotClaimed:
                    continue  # someone else claimed first: look again
            if row.csr_sha256 != csr_sha:
                self._refuse(
                    row, actor, Code.ZID_1303, "the token is being redeemed with another CSR"
                )
            if now - row.token_used_at >= self.lease:
                if self._take_over(row.id, row.token_used_at, csr_sha, now):
                    _LOG.warning(
                        "registration %s: claim of %s taken over after the lease",
                        row.id,
                        row.token_used_at.isoformat(),
                    )
                    checked = self._check(digest, row, csr, actor, taken_over=True)
                    return self._issue(row, checked, claimed_at=now)
                continue
            if time.monotonic() >= deadline:
                raise ZorgIdError(Code.ZID_1305, "an earlier call with this CSR is still issuing")
            time.sleep(POLL_SECONDS)

    # -- steps ---------------------------------------------------------------------

    def _read(self, digest: str) -> TokenRegistration | None:
        return self._read_token(digest)

    def _check(
        self, digest: str, row: Any, csr: bytes, actor: Actor, *, taken_over: bool = False
    ) -> CheckedRequest:
        """Cycle step 1 before claiming, one attempt at a time per token: a bad CSR must not
        burn the token, and the failed-attempt limit holds exactly (issue 16, item 13).

        Why under a lock: checked against the count read before evaluating, N
        concurrent bad CSRs all passed the check and were all evaluated (7 at a
        limit of 5). Under the token's attempt lock the count is read fresh,
        the request evaluated and a refusal counted before the lock is let go;
        a good request writes nothing here. A token claimed meanwhile is not
        evaluated (:class:`_NotClaimed`: the caller looks again). A key of
        another person (ZID-1203) is found in step 2, under the claim, which
        is exclusive too; it is counted as the claim is given back.
        ``taken_over``: we hold the claim ourselves (the same CSR, which
        already passed once).
        """
        try:
            request = IssuanceRequest(
                attrs=attrs_from_json(row.frozen_data),
                csr=csr,
                person_id=row.person_id,
                registration_id=row.id,
                actor=actor,
                card_not_after=row.card_not_after,
            )
        except ValueError as exc:
            raise ZorgIdError(Code.ZID_1204, f"frozen registration data: {exc}") from None
        refused: ZorgIdError
        with self._attempt_lock(row.id) as conn:
            fresh = self._read(digest)  # whoever held the lock before has committed
            if fresh is None:
                raise ZorgIdError(Code.ZID_1301, "no redeemable registration for this token")
            if not taken_over:
                if fresh.token_used_at is not None:
                    raise _NotClaimed(row.id)
                if fresh.failed_attempts >= self.max_failed:
                    raise self._blocked(fresh.failed_attempts)
            try:
                return self.cycle.step1_check_request(request)
            except ZorgIdError as exc:
                if exc.code not in FAILED_ATTEMPT_CODES:
                    raise
                if conn is None:
                    self._count(row, actor, exc.code)
                else:
                    self._count_in(conn, row, actor, exc.code)
                refused = exc
        raise refused

    @contextlib.contextmanager
    def _attempt_lock(self, registration_id: str) -> Iterator[Connection | None]:
        """Hold the registration's attempt lock; yields the transaction to count in, if any.

        PostgreSQL: a write transaction with a transaction-scoped advisory lock
        on the registration (held to its end; the count is written in it). Not
        ``SELECT ... FOR UPDATE``: a row lock gives the transaction an id, so
        every good redemption would write and flush a commit; the advisory lock
        writes nothing. The threads of this process take turns first in memory:
        each one waiting on the advisory lock held a pooled connection, and a
        hundred concurrent calls on one token left none for the winner's store
        step (pool timeout after 30 s). SQLite: :class:`AttemptLocks` (a
        refusal is counted in a write transaction of its own, inside the lock).
        """
        if self._sqlite_locks is not None:
            with self._sqlite_locks.hold(registration_id):
                yield None
            return
        with self._pg_waiting.hold(registration_id), write_transaction(self.engine) as conn:
            key = int.from_bytes(_attempt_key(registration_id)[:8], "big", signed=True)
            store.lock_attempts_pg(conn, key)
            yield conn

    def _blocked(self, failed: int) -> ZorgIdError:
        return ZorgIdError(
            Code.ZID_1304,
            f"{failed} failed attempts; the policy allows "
            f"{self.max_failed} (enrolment.max_failed_attempts)",
        )

    def _claim(self, registration_id: str, csr_sha: str, now: datetime) -> Begin:
        """The claim, run by the cycle at the start of step 2's transaction.

        Claim and reservation commit together: a claim never exists without
        the intent it leads to, and an issuance costs one commit fewer.
        """

        def claim(conn: Connection) -> None:
            if not store.claim_token(
                conn,
                registration_id=registration_id,
                now=now,
                max_failed=self.max_failed,
                csr_sha256=csr_sha,
            ):
                raise _NotClaimed(registration_id)

        return claim

    def _take_over(self, registration_id: str, old: datetime, csr_sha: str, now: datetime) -> bool:
        with write_transaction(self.engine) as conn:
            return store.take_over_claim(
                conn, registration_id=registration_id, old=old, csr_sha256=csr_sha, now=now
            )

    def _release(
        self,
        registration_id: str,
        claimed_at: datetime,
        *,
        refused: tuple[Any, Actor, Code] | None = None,
    ) -> None:
        """Give the token back after a refusal or error, so the user can retry.

        ``refused`` (row, actor, code): count that failed attempt in the same
        transaction, so the next claim (``failed_attempts < :max``) sees it.
        """
        try:
            with write_transaction(self.engine) as conn:
                if refused is not None:
                    self._count_in(conn, *refused)  # takes the audit head first
                store.release_claim(
                    conn,
                    registration_id=registration_id,
                    claimed_at=claimed_at,
                    now=self.clock(),
                )
        except Exception:
            _LOG.exception("could not release the claim on registration %s", registration_id)

    def _issue(
        self,
        row: Any,
        checked: CheckedRequest,
        *,
        claimed_at: datetime,
        claim: Begin | None = None,
    ) -> Redemption:
        registration_id = row.id

        def finish(conn: Connection, cert: IssuedCertificate) -> None:
            if not store.finish_redemption(
                conn,
                registration_id=registration_id,
                claimed_at=claimed_at,
                certificate_id=cert.id,
                at=cert.issued_at,
            ):
                raise _ClaimLost(registration_id)

        try:
            cert = self.cycle.issue_checked(checked, finish=finish, begin=claim)
        except _NotClaimed:
            raise  # nothing was claimed or reserved: the caller looks again
        except _ClaimLost:
            # Taken over while we signed: our certificate was rolled back unstored
            # (reservation marked failed); the new owner's is the one.
            raise ZorgIdError(Code.ZID_1305, "the redemption was taken over; retry") from None
        except ZorgIdError as exc:
            counted = exc.code in FAILED_ATTEMPT_CODES  # a key of another person, or compromised
            refused = (row, checked.request.actor, exc.code) if counted else None
            self._release(registration_id, claimed_at, refused=refused)
            raise
        except BaseException:
            self._release(registration_id, claimed_at)
            raise
        return Redemption(certificate=cert, replayed=False)

    # -- refusals --------------------------------------------------------------------

    def _count(self, row: Any, actor: Actor, code: Code) -> int:
        """Count one failed attempt and record it in the audit log (one transaction)."""
        with write_transaction(self.engine) as conn:
            return self._count_in(conn, row, actor, code)

    def _count_in(self, conn: Connection, row: Any, actor: Actor, code: Code) -> int:
        """Count one failed attempt (capped at the limit) and audit it, in *conn*'s transaction."""
        lock_audit_head(conn)  # the head before the registration row, as step 4 does
        counted = store.count_refusal(
            conn, registration_id=row.id, max_failed=self.max_failed, now=self.clock()
        )
        failed = self.max_failed if counted is None else counted
        self.cycle.audit.append(
            conn,
            AuditEvent(
                actor_role=actor.role,
                actor_identity=actor.identity,
                action="enrolment.redeem",
                subject=f"registration:{row.id}",
                outcome="refused",
                details={"code": code, "failed_attempts": failed},
            ),
        )
        return failed

    def _refuse(self, row: Any, actor: Actor, code: Code, detail: str) -> NoReturn:
        self._count(row, actor, code)
        raise ZorgIdError(code, detail)
