"""Policy versions in the store: propose, approve, reject, with their audit events.

The rules live in :mod:`policies.versions` (pure); the row signatures in
:mod:`issuer.policy_store.signed`; the SQL in :mod:`issuer.store.policies`.
Here they meet: every write is signed with the HSM audit key in the same
transaction as its :class:`~issuer.audit.AuditEvent`, and a proposal is
validated before it is stored (:meth:`PolicyStore.validate`): schema, trust
set, known OIDs, cross-field bounds, the issuing CA outliving the
certificates, and a sample certificate built and linted with the profile.

``document`` holds the canonical JSON of the parsed document and
``document_sha256`` its SHA-256 (= :attr:`policies.Policy.digest`).

Officer identity is the RFC 4514 subject of the verified client certificate:
a second certificate for the same person does not make a second person.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography import x509

from issuer.audit import AuditEvent, AuditLog, CheckpointSigner, CheckpointVerifier, key_sha256
from issuer.audit import keys as audit_keys
from issuer.errors import Code, ZorgIdError
from issuer.errors import policy as codes
from issuer.policy_store.dryrun import recorded_requests
from issuer.policy_store.signed import (
    StoredVersion,
    row_values,
    signed_message,
    text_sha256,
    verify_row,
)
from issuer.store import Connection, Engine
from issuer.store import policies as rows
from issuer.store.transactions import write_transaction
from policies import Policy, PolicyError, load_policy, parse_policy
from policies import versions as rules
from policies.diff import Change, changes, unified_diff
from policies.dryrun import DryRunReport, dry_run
from policies.sanity import problems

__all__ = ["BOOTSTRAP_ACTOR", "SCHEDULE_ACTOR", "Clock", "Officer", "PolicyStore"]

BOOTSTRAP_ACTOR = "engine:bootstrap"
SCHEDULE_ACTOR = "engine:schedule"

Clock = Callable[[], dt.datetime]


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True, kw_only=True)
class Officer:
    """Who acts: the role that let them in and their certificate identity."""

    role: str
    identity: str
    """RFC 4514 subject of the verified client certificate (the two-person rule compares it)."""
    certificate_sha256: str = ""


_BREACH_CODES = {
    rules.RuleBreach.OWN_PROPOSAL: codes.OWN_PROPOSAL,
    rules.RuleBreach.EXPIRED: codes.PROPOSAL_EXPIRED,
    rules.RuleBreach.WRONG_STATE: codes.WRONG_STATE,
    rules.RuleBreach.STALE_BASE: codes.STALE_BASE,
    rules.RuleBreach.BAD_SCHEDULE: codes.BAD_SCHEDULE,
    rules.RuleBreach.BAD_LIFETIME: codes.BAD_SCHEDULE,
}


class _Again(Exception):
    """A concurrent transaction moved the active row under a locking read: run again.

    On PostgreSQL (READ COMMITTED) ``SELECT ... WHERE state = 'active' FOR UPDATE``
    that waited for another activation re-checks the row it found, now
    ``superseded``, and returns nothing; a new statement sees the new active row.
    """


class PolicyStore:
    """Propose, approve, reject, read and dry-run policy versions on one database.

    ``signer`` is the HSM audit key (``hsm.get_key(material.audit_key_label)``),
    ``verifier`` its public key from ``<data_dir>/ca/audit-checkpoint.pub.pem``;
    ``issuer_cert`` is the issuing CA certificate proposals are linted against;
    ``bootstrap`` is the configured (or packaged) policy that becomes version 1
    when the database has none yet.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        audit: AuditLog,
        signer: CheckpointSigner,
        verifier: CheckpointVerifier,
        issuer_cert: x509.Certificate,
        bootstrap: Callable[[], tuple[str, str]],
        clock: Clock = _utc_now,
        lint: bool = True,
    ) -> None:
        self._engine = engine
        self._audit = audit
        self._signer = signer
        self._verifier = verifier
        self._key_id = key_sha256(verifier)
        self._issuer_cert = issuer_cert
        self._bootstrap = bootstrap
        self._clock = clock
        self._lint = lint

    @property
    def engine(self) -> Engine:
        return self._engine

    @property
    def verifier(self) -> CheckpointVerifier:
        """The audit public key every row is verified with."""
        return self._verifier

    def now(self) -> dt.datetime:
        return self._clock()

    # ---------------------------------------------------------------- reading

    def _verify(self, row: Any) -> StoredVersion:
        return verify_row(row, self._verifier)

    def _select(self, conn: Connection | None, version: int, *, lock: bool = False) -> Any:
        """One version's row (on its own connection when ``conn`` is None); ZID-1504 if none."""
        if conn is None:
            row = rows.version_row(self._engine, version)
        else:
            row = rows.select_version(conn, version, lock=lock)
        if row is None:
            raise ZorgIdError(
                codes.VERSION_NOT_FOUND,
                f"got version {version}; no such policy version",
                metadata={"version": str(version)},
            )
        return row

    def get(self, version: int) -> StoredVersion:
        """One version, verified."""
        return self._verify(self._select(None, version))

    def list(self) -> list[StoredVersion]:
        """Every version, newest first, each verified."""
        self.active()
        return [self._verify(row) for row in rows.all_versions(self._engine)]

    def active(self) -> StoredVersion:
        """The active version now: bootstraps and performs due scheduled activations first."""
        found = rows.in_force_rows(self._engine, self._clock())
        if len(found) == 1 and found[0].state == "active":
            return self._verify(found[0])
        return self._settle()

    # ---------------------------------------------------------------- writing

    def _write(self, conn: Connection, record: rules.VersionRecord, *, insert: bool) -> None:
        values = row_values(record)
        values["signature"] = audit_keys.sign(self._signer, signed_message(record))
        values["signer_key_sha256"] = self._key_id
        if insert:
            rows.insert_version(conn, values)
        else:
            rows.update_version(conn, record.version, values)

    def _event(
        self,
        conn: Connection,
        officer: Officer,
        action: str,
        record: rules.VersionRecord | None,
        *,
        outcome: str = "success",
        **details: Any,
    ) -> None:
        subject = f"policy:{record.version}" if record is not None else "policy:new"
        base: dict[str, Any] = {}
        if record is not None:
            base = {
                "version": record.version,
                "name": record.name,
                "state": record.state.value,
                "document_sha256": record.document_sha256,
                "approvals": [a.by for a in record.approvals],
            }
        self._audit.append(
            conn,
            AuditEvent(
                actor_role=officer.role,
                actor_identity=officer.identity[:512],
                action=action,
                subject=subject,
                outcome=outcome,
                details={**base, **details},
            ),
        )

    def _refused(
        self, officer: Officer, action: str, record: rules.VersionRecord | None, why: str
    ) -> None:
        with write_transaction(self._engine) as conn:
            self._event(conn, officer, action, record, outcome="refused", refusal=why[:1000])

    def _activate(
        self, conn: Connection, record: rules.VersionRecord, officer: Officer, now: dt.datetime
    ) -> None:
        """Make ``record`` (already ACTIVE) the one active row: supersede the old one."""
        old = rows.active_row(conn, lock=True)
        if old is not None and int(old.version) != record.version:
            previous = rules.supersede(self._verify(old).record, now)
            self._write(conn, previous, insert=False)
            self._event(conn, officer, "policy.supersede", previous, by_version=record.version)
        self._write(conn, record, insert=False)
        self._event(conn, officer, "policy.activate", record)

    def _settle(self) -> StoredVersion:
        """Bootstrap an empty table; activate approved versions whose time has come."""
        engine_actor = Officer(role="engine", identity=BOOTSTRAP_ACTOR)
        scheduler = Officer(role="engine", identity=SCHEDULE_ACTOR)
        for _ in range(5):
            now = self._clock()
            try:
                with rows.numbering_transaction(self._engine) as conn:
                    active = rows.active_row(conn, lock=True)
                    due = [self._verify(r).record for r in rows.due_rows(conn, now)]
                    for record in due:
                        self._activate(conn, rules.activate(record, now), scheduler, now)
                    if active is None and not due and not rows.ever_active(conn):
                        self._bootstrap_in(conn, now, engine_actor)
                    row = rows.active_row(conn)
                    if row is None:
                        raise _Again
                    return self._verify(row)
            except (rows.VersionTaken, _Again):
                continue  # another process bootstrapped or activated first: read again
        raise ZorgIdError(Code.ZID_0004, "could not settle the active policy version (contention)")

    def _bootstrap_in(self, conn: Connection, now: dt.datetime, actor: Officer) -> None:
        source_text, source = self._bootstrap()
        policy = load_policy(source_text)
        text = policy.canonical.decode("utf-8")
        highest = rows.highest_version(conn)
        record = rules.VersionRecord(
            version=1 if highest is None else int(highest) + 1,
            name=str(policy.version),
            document=text,
            document_sha256=text_sha256(text),
            state=rules.State.ACTIVE,
            proposed_by=BOOTSTRAP_ACTOR,
            proposed_at=now,
            approvals=(),
            expires_at=None,
            activate_at=None,
            base_version=None,
            decided_at=now,
            decided_by=BOOTSTRAP_ACTOR,
            activated_at=now,
            reason=f"bootstrap from {source}"[:512],
        )
        self._write(conn, record, insert=True)
        self._event(conn, actor, "policy.bootstrap", record, source=source[:256])

    def validate(self, text: str) -> Policy:
        """Every check a proposal must pass; raises ZID-1501 / ZID-1502 naming the problem.

        ``text`` is TOML, or the canonical JSON of a stored version (rolling
        back is proposing an old version's document again).
        """
        try:
            if text.lstrip().startswith("{"):  # a stored version's canonical JSON (rollback)
                policy = parse_policy(json.loads(text))
            else:
                policy = load_policy(text)
        except PolicyError as exc:
            raise ZorgIdError(codes.PROPOSAL_INVALID, str(exc)) from None
        except ValueError as exc:
            raise ZorgIdError(
                codes.PROPOSAL_INVALID, f"got a document that is not JSON ({exc})"
            ) from None
        found = [str(p) for p in problems(policy)]
        try:
            from issuer.uzi.trust import load_trust_set

            load_trust_set(policy.uzi.trust_set)
        except ZorgIdError as exc:
            found.append(f"policy key 'uzi.trust_set': {exc.detail or exc.message}")
        ends = self._clock() + dt.timedelta(days=policy.profile.validity_days)
        ca_end = self._issuer_cert.not_valid_after_utc
        if ends > ca_end:
            found.append(
                f"policy key 'profile.validity_days': got {policy.profile.validity_days} days "
                f"(until {ends.date().isoformat()}); expected certificates to end before the "
                f"issuing CA does ({ca_end.date().isoformat()}), RFC 5280 §6.1.3 path validity"
            )
        if found:
            raise ZorgIdError(codes.PROPOSAL_INVALID, "; ".join(found))
        if self._lint:
            from issuer.lint import lint_profile

            try:
                findings = lint_profile(policy, self._issuer_cert, self._clock())
            except ValueError as exc:  # the builder refuses (ProfileError, cryptography)
                raise ZorgIdError(
                    codes.PROFILE_LINT, f"a sample certificate cannot be built: {exc}"
                ) from None
            if findings:
                raise ZorgIdError(
                    codes.PROFILE_LINT, "; ".join(str(f) for f in findings[:10])[:2000]
                )
        return policy

    def propose(
        self,
        text: str,
        *,
        officer: Officer,
        lifetime: dt.timedelta | None = None,
        activate_at: dt.datetime | None = None,
        reason: str = "",
    ) -> StoredVersion:
        """Validate and store a new proposal against the active version."""
        base = self.active()
        now = self._clock()
        try:
            expires = rules.expiry_for(now, lifetime)
            rules.check_schedule(activate_at, now)
            policy = self.validate(text)
            if policy.digest == base.policy.digest:
                raise ZorgIdError(
                    codes.PROPOSAL_INVALID,
                    f"got a document equal to active version {base.record.version} (digest "
                    f"{policy.digest[:16]}...); expected a change: there is nothing to approve",
                )
        except rules.VersionRuleError as exc:
            self._refused(officer, "policy.propose", None, str(exc))
            raise ZorgIdError(_BREACH_CODES[exc.breach], str(exc)) from None
        except ZorgIdError as exc:
            self._refused(officer, "policy.propose", None, exc.detail)
            raise
        for _ in range(3):
            try:
                with rows.numbering_transaction(self._engine) as conn:
                    highest = rows.highest_version(conn)
                    record = rules.VersionRecord(
                        version=1 if highest is None else int(highest) + 1,
                        name=str(policy.version),
                        document=policy.canonical.decode("utf-8"),
                        document_sha256=policy.digest,
                        state=rules.State.PROPOSED,
                        proposed_by=officer.identity[:256],
                        proposed_at=now,
                        approvals=(),
                        expires_at=expires,
                        activate_at=activate_at,
                        base_version=base.record.version,
                        reason=reason[:512] or None,
                    )
                    self._write(conn, record, insert=True)
                    self._event(
                        conn,
                        officer,
                        "policy.propose",
                        record,
                        base_version=base.record.version,
                        policy_digest=policy.digest,
                        changes=[c.path for c in changes(base.policy, policy)],
                    )
                return StoredVersion(record=record, policy=policy)
            except rows.VersionTaken:
                continue
        raise ZorgIdError(Code.ZID_0004, "could not number the proposal (concurrent proposals)")

    def approve(self, version: int, *, officer: Officer) -> tuple[StoredVersion, bool]:
        """Record ``officer``'s approval; activates at the threshold M of the active version.

        Returns the version and whether this call changed it (a repeated
        approval by the same officer counts once and changes nothing).
        """
        self.active()  # settles bootstrap and due scheduled activations first
        now = self._clock()
        for _ in range(5):
            try:
                return self._approve_once(version, officer, now)
            except _Again:
                continue
        raise ZorgIdError(Code.ZID_0004, "the active version kept changing; approve again")

    def _approve_once(
        self, version: int, officer: Officer, now: dt.datetime
    ) -> tuple[StoredVersion, bool]:
        updated: rules.VersionRecord | None = None
        changed = False
        with write_transaction(self._engine) as conn:
            active_row = rows.active_row(conn, lock=True)
            if active_row is None:
                raise _Again
            current = self._verify(active_row)
            stored = self._verify(self._select(conn, version, lock=True))
            try:
                updated, changed = rules.approve(
                    stored.record,
                    officer=officer.identity[:256],
                    now=now,
                    active_version=current.record.version,
                    active_approvals_required=current.policy.approval.approvals_required,
                )
            except rules.VersionRuleError as exc:
                failure: rules.VersionRuleError | None = exc
            else:
                failure = None
                if changed:
                    self._event(
                        conn,
                        officer,
                        "policy.approve",
                        updated,
                        required=rules.required_approvals(
                            current.policy.approval.approvals_required
                        ),
                    )
                    if updated.state is rules.State.ACTIVE:
                        self._activate(conn, updated, officer, now)
                    else:
                        self._write(conn, updated, insert=False)
                        if updated.state is rules.State.APPROVED:
                            self._event(conn, officer, "policy.schedule", updated)
        if failure is not None or updated is None:
            assert failure is not None
            self._refused(officer, "policy.approve", stored.record, str(failure))
            raise ZorgIdError(
                _BREACH_CODES[failure.breach], str(failure), metadata={"version": str(version)}
            )
        return StoredVersion(record=updated, policy=stored.policy), changed

    def reject(self, version: int, *, officer: Officer, reason: str = "") -> StoredVersion:
        """Any security officer may reject a proposed or scheduled version."""
        now = self._clock()
        updated: rules.VersionRecord | None = None
        with write_transaction(self._engine) as conn:
            stored = self._verify(self._select(conn, version, lock=True))
            try:
                updated = rules.reject(
                    stored.record, officer=officer.identity[:256], now=now, reason=reason[:512]
                )
            except rules.VersionRuleError as exc:
                failure: rules.VersionRuleError | None = exc
            else:
                failure = None
                self._write(conn, updated, insert=False)
                self._event(conn, officer, "policy.reject", updated, reason=reason[:512])
        if failure is not None or updated is None:
            assert failure is not None
            self._refused(officer, "policy.reject", stored.record, str(failure))
            raise ZorgIdError(_BREACH_CODES[failure.breach], str(failure))
        return StoredVersion(record=updated, policy=stored.policy)

    # ---------------------------------------------------------------- review

    def diff(
        self, version: int, against: int | None = None
    ) -> tuple[StoredVersion, StoredVersion, tuple[Change, ...], str]:
        """Changes of ``version`` against ``against`` (default: its base, else the active one)."""
        target = self.get(version)
        if against is None:
            against = target.record.base_version
        other = self.get(against) if against is not None else self.active()
        text = unified_diff(
            other.policy,
            target.policy,
            old_label=f"version {other.record.version} ({other.record.state})",
            new_label=f"version {target.record.version} ({target.record.state})",
        )
        return other, target, changes(other.policy, target.policy), text

    def dry_run(
        self, version: int, *, since: dt.datetime | None = None, limit: int = 1000
    ) -> tuple[StoredVersion, DryRunReport]:
        """Replay the recent recorded requests against ``version``."""
        target = self.get(version)
        start = since or (self._clock() - dt.timedelta(days=30))
        with self._engine.connect() as conn:
            recorded = list(recorded_requests(conn, since=start, limit=limit))
        return target, dry_run(target.policy, recorded)
