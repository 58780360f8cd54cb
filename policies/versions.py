"""Policy versions as a state machine: the two-person rule, M of N, expiry, scheduling.

Pure domain code (no database, no transport): :mod:`issuer.policy_store` loads
a :class:`VersionRecord`, asks a function here for the next record, and stores
it with its audit event in one transaction. Keeping the rules here lets them be
tested without a server and read in one place (ARCHITECTURE §9).

States::

    proposed --approve (M distinct officers, none the proposer)--> active
    proposed --approve, activation scheduled later-------------> approved
    approved --scheduled time reached---------------------------> active
    active   --another version becomes active------------------> superseded
    proposed | approved --reject (any officer)-----------------> rejected

A proposal past its ``expires_at`` is *expired*: a derived state (see
:meth:`VersionRecord.effective_state`), so that no background job is needed
and an expired proposal cannot be approved even if nobody looked at it.

Why M comes from the *current* active version: the threshold protects the
policy, so a proposal that lowers it (say 2 -> 1) must itself clear the old
threshold, and one that raises it need not wait for the raise to apply to
itself. Why the proposer never counts: "a second person" (issue 7; the
four-eyes principle of ETSI EN 319 401 §7.2 for role separation of trusted
roles) means someone other than the author.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

__all__ = [
    "DEFAULT_PROPOSAL_LIFETIME",
    "MAX_PROPOSAL_LIFETIME",
    "MAX_SCHEDULE_AHEAD",
    "MIN_PROPOSAL_LIFETIME",
    "Approval",
    "RuleBreach",
    "State",
    "VersionRecord",
    "VersionRuleError",
    "approve",
    "due_for_activation",
    "expiry_for",
    "reject",
    "required_approvals",
    "supersede",
]

DEFAULT_PROPOSAL_LIFETIME = timedelta(days=7)
"""A proposal left unapproved for a week is stale: the officers who reviewed the
diff have moved on and the active version may have changed under it."""
MIN_PROPOSAL_LIFETIME = timedelta(hours=1)
"""Shorter than an hour leaves no time for a second officer to review."""
MAX_PROPOSAL_LIFETIME = timedelta(days=30)
"""Beyond a month a reviewed diff is no longer what anyone remembers approving."""
MAX_SCHEDULE_AHEAD = timedelta(days=90)
"""A scheduled activation further out than a quarter outlives the review it had."""


class State(enum.StrEnum):
    """The stored states (``policy_versions.state``) plus the derived ``expired``."""

    PROPOSED = "proposed"
    APPROVED = "approved"
    ACTIVE = "active"
    SUPERSEDED = "superseded"
    REJECTED = "rejected"
    EXPIRED = "expired"


class RuleBreach(enum.StrEnum):
    """Which rule a refused transition broke (mapped to catalogue codes by the issuer)."""

    OWN_PROPOSAL = "own-proposal"
    EXPIRED = "expired"
    WRONG_STATE = "wrong-state"
    STALE_BASE = "stale-base"
    BAD_SCHEDULE = "bad-schedule"
    BAD_LIFETIME = "bad-lifetime"


class VersionRuleError(Exception):
    """A transition the rules refuse; the message says what was got and what to do."""

    def __init__(self, breach: RuleBreach, message: str) -> None:
        self.breach = breach
        super().__init__(message)


@dataclass(frozen=True, kw_only=True)
class Approval:
    """One officer's approval: their certificate identity and when."""

    by: str
    at: datetime


@dataclass(frozen=True, kw_only=True)
class VersionRecord:
    """One policy version as stored (``policy_versions``), without its signature."""

    version: int
    name: str
    """The document's own ``version`` label."""
    document: str
    """The canonical JSON of the parsed document (:func:`policies.canonical_bytes`):
    what issuance reads and the digest identifies; comments of the TOML are not kept."""
    document_sha256: str
    state: State
    proposed_by: str
    proposed_at: datetime
    approvals: tuple[Approval, ...]
    expires_at: datetime | None
    activate_at: datetime | None
    """Scheduled activation time; ``None``: at the deciding approval."""
    base_version: int | None
    """The version that was active when this was proposed (the diff the officers saw)."""
    decided_at: datetime | None = None
    decided_by: str | None = None
    activated_at: datetime | None = None
    reason: str | None = None
    """Why it was rejected, or what the proposer said it changes."""

    def effective_state(self, now: datetime) -> State:
        """The state as of ``now``: a proposal past ``expires_at`` is expired."""
        if self.state is State.PROPOSED and self.expires_at is not None and now >= self.expires_at:
            return State.EXPIRED
        return self.state

    def approvers(self) -> tuple[str, ...]:
        return tuple(a.by for a in self.approvals)


def expiry_for(proposed_at: datetime, lifetime: timedelta | None) -> datetime:
    """``proposed_at + lifetime`` after checking the lifetime's bounds."""
    chosen = DEFAULT_PROPOSAL_LIFETIME if lifetime is None else lifetime
    if not MIN_PROPOSAL_LIFETIME <= chosen <= MAX_PROPOSAL_LIFETIME:
        raise VersionRuleError(
            RuleBreach.BAD_LIFETIME,
            f"got a proposal lifetime of {chosen}; expected between {MIN_PROPOSAL_LIFETIME} "
            f"and {MAX_PROPOSAL_LIFETIME} (time to review, but not a forgotten proposal)",
        )
    return proposed_at + chosen


def check_schedule(activate_at: datetime | None, now: datetime) -> None:
    """A scheduled activation must lie in the future, at most :data:`MAX_SCHEDULE_AHEAD` out."""
    if activate_at is None:
        return
    if activate_at <= now:
        raise VersionRuleError(
            RuleBreach.BAD_SCHEDULE,
            f"got activation time {activate_at.isoformat()}, which is not after now "
            f"({now.isoformat()}); leave it out to activate at approval, or give a future time",
        )
    if activate_at - now > MAX_SCHEDULE_AHEAD:
        raise VersionRuleError(
            RuleBreach.BAD_SCHEDULE,
            f"got activation time {activate_at.isoformat()}; expected at most "
            f"{MAX_SCHEDULE_AHEAD.days} days ahead (a review must not be acted on that late)",
        )


def required_approvals(active_approvals_required: int | None) -> int:
    """M: the threshold of the *active* version (1 when there is none yet, at bootstrap)."""
    return max(1, active_approvals_required or 1)


def approve(
    record: VersionRecord,
    *,
    officer: str,
    now: datetime,
    active_version: int | None,
    active_approvals_required: int | None,
) -> tuple[VersionRecord, bool]:
    """Add ``officer``'s approval; return the new record and whether it changed.

    The same officer approving again changes nothing (counts once). When the
    number of distinct approvers reaches M the record becomes ``active``, or
    ``approved`` when its activation is scheduled later.
    """
    state = record.effective_state(now)
    if state is State.EXPIRED:
        assert record.expires_at is not None
        raise VersionRuleError(
            RuleBreach.EXPIRED,
            f"proposal {record.version} expired at {record.expires_at.isoformat()} "
            f"(now {now.isoformat()}); propose the document again",
        )
    if state is not State.PROPOSED:
        raise VersionRuleError(
            RuleBreach.WRONG_STATE,
            f"version {record.version} is {state}; only a proposed version can be approved",
        )
    if officer == record.proposed_by:
        raise VersionRuleError(
            RuleBreach.OWN_PROPOSAL,
            f"version {record.version} was proposed by this officer; the two-person rule "
            "needs approval by a different security officer",
        )
    if record.base_version != active_version:
        raise VersionRuleError(
            RuleBreach.STALE_BASE,
            f"version {record.version} was proposed against active version "
            f"{record.base_version}, but version {active_version} is active now; the diff "
            "that was reviewed no longer applies: reject it and propose again",
        )
    if officer in record.approvers():
        return record, False
    approvals = (*record.approvals, Approval(by=officer, at=now))
    updated = replace(record, approvals=approvals)
    if len(approvals) >= required_approvals(active_approvals_required):
        if record.activate_at is not None and record.activate_at > now:
            updated = replace(updated, state=State.APPROVED, decided_at=now, decided_by=officer)
        else:
            updated = replace(
                updated, state=State.ACTIVE, decided_at=now, decided_by=officer, activated_at=now
            )
    return updated, True


def reject(record: VersionRecord, *, officer: str, now: datetime, reason: str) -> VersionRecord:
    """Any security officer (the proposer too) may reject a proposed or scheduled version."""
    state = record.effective_state(now)
    if state not in (State.PROPOSED, State.APPROVED):
        raise VersionRuleError(
            RuleBreach.WRONG_STATE,
            f"version {record.version} is {state}; only a proposed or scheduled version can "
            "be rejected (to undo an active version, propose the previous one again)",
        )
    return replace(
        record, state=State.REJECTED, decided_at=now, decided_by=officer, reason=reason or None
    )


def due_for_activation(record: VersionRecord, now: datetime) -> bool:
    """Whether an approved, scheduled version should become active now."""
    return (
        record.state is State.APPROVED
        and record.activate_at is not None
        and record.activate_at <= now
    )


def activate(record: VersionRecord, now: datetime) -> VersionRecord:
    """The scheduled activation itself."""
    return replace(record, state=State.ACTIVE, activated_at=now)


def supersede(record: VersionRecord, now: datetime) -> VersionRecord:
    """The previously active version, once another becomes active."""
    return replace(record, state=State.SUPERSEDED, decided_at=record.decided_at or now)
