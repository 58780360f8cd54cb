"""Policy versions in the store: signed rows, audited transitions, the active version.

The rules live in :mod:`policies.versions` (pure); this module is where they
meet the database, the HSM and the audit log:

- every write of a ``policy_versions`` row is signed with the HSM audit key
  over the row's meaningful fields (:func:`signed_message`), in the same
  transaction as its :class:`~issuer.audit.AuditEvent`; every read verifies
  the signature with the audit public key (``<data_dir>/ca/audit-checkpoint.pub.pem``),
  so a document, state or approval changed in the database behind the engine's
  back is refused at load (ZID-1508) instead of being issued under;
- a proposal is validated before it is stored (:meth:`PolicyStore.validate`):
  schema, trust set, known OIDs, cross-field bounds, the issuing CA outliving
  the certificates, and a sample certificate built and linted with the profile;
- :class:`ActivePolicy` gives issuance the active version at the moment of a
  request. A request takes one :class:`ActiveVersion` at its start and uses it
  throughout, so a version change never breaks a request in flight.

``document`` holds the canonical JSON of the parsed document and
``document_sha256`` its SHA-256 (= :attr:`policies.Policy.digest`), the form the
issuance runtime (``issuer.issuance.policy_record``) reads.

Officer identity is the RFC 4514 subject of the verified client certificate:
a second certificate for the same person does not make a second person.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from issuer.audit import AuditEvent, AuditLog, CheckpointSigner, CheckpointVerifier, key_sha256
from issuer.audit import keys as audit_keys
from issuer.errors import Code, ZorgIdError
from issuer.errors import policy as codes
from issuer.store import READ_ONLY
from issuer.store.reads import ReadConnections
from issuer.store.schema import certificates, policy_versions, registrations
from issuer.store.types import UtcDateTime, to_utc_text
from policies import Policy, PolicyError, load_policy, parse_policy
from policies import versions as rules
from policies.diff import Change, changes, unified_diff
from policies.dryrun import DryRunReport, RecordedRequest, dry_run
from policies.sanity import problems

__all__ = [
    "ActivePolicy",
    "ActiveVersion",
    "Officer",
    "PolicyStore",
    "StoredVersion",
    "read_active",
    "recorded_requests",
    "signed_message",
    "verify_row",
]

SIGNATURE_CONTEXT = b"zorgid policy version v1\n"
"""Domain separation: an audit-key signature over a policy row can never be
mistaken for an audit checkpoint signature (a different prefix) or vice versa."""

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


@dataclass(frozen=True, kw_only=True)
class StoredVersion:
    """A verified row: its record and the parsed policy."""

    record: rules.VersionRecord
    policy: Policy


@dataclass(frozen=True, kw_only=True)
class ActiveVersion:
    """The version a request is served under: take one at the request's start."""

    version: int
    policy: Policy


def signed_message(record: rules.VersionRecord) -> bytes:
    """The bytes the audit key signs for a row: every field that decides what it means."""

    def when(value: dt.datetime | None) -> str | None:
        return None if value is None else to_utc_text(value)

    body = {
        "version": record.version,
        "name": record.name,
        "document_sha256": record.document_sha256,
        "state": record.state.value,
        "proposed_by": record.proposed_by,
        "proposed_at": when(record.proposed_at),
        "approvals": [{"by": a.by, "at": when(a.at)} for a in record.approvals],
        "expires_at": when(record.expires_at),
        "activate_at": when(record.activate_at),
        "base_version": record.base_version,
        "decided_at": when(record.decided_at),
        "decided_by": record.decided_by,
        "activated_at": when(record.activated_at),
        "reason": record.reason,
    }
    return SIGNATURE_CONTEXT + json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def _record_from_row(row: Any) -> rules.VersionRecord:
    approvals = tuple(
        rules.Approval(by=str(a["by"]), at=dt.datetime.fromisoformat(str(a["at"])))
        for a in (row.approvals or [])
    )
    return rules.VersionRecord(
        version=int(row.version),
        name=row.name or "",
        document=row.document,
        document_sha256=row.document_sha256,
        state=rules.State(row.state),
        proposed_by=row.proposed_by,
        proposed_at=row.proposed_at,
        approvals=approvals,
        expires_at=row.expires_at,
        activate_at=row.activate_at,
        base_version=row.base_version,
        decided_at=row.decided_at,
        decided_by=row.decided_by,
        activated_at=row.activated_at,
        reason=row.reason,
    )


def _row_values(record: rules.VersionRecord) -> dict[str, Any]:
    return {
        "version": record.version,
        "name": record.name,
        "document": record.document,
        "document_sha256": record.document_sha256,
        "state": record.state.value,
        "proposed_by": record.proposed_by,
        "proposed_at": record.proposed_at,
        "approvals": [{"by": a.by, "at": to_utc_text(a.at)} for a in record.approvals],
        "expires_at": record.expires_at,
        "activate_at": record.activate_at,
        "base_version": record.base_version,
        "decided_at": record.decided_at,
        "decided_by": record.decided_by,
        "activated_at": record.activated_at,
        "reason": record.reason,
    }


_BREACH_CODES = {
    rules.RuleBreach.OWN_PROPOSAL: codes.OWN_PROPOSAL,
    rules.RuleBreach.EXPIRED: codes.PROPOSAL_EXPIRED,
    rules.RuleBreach.WRONG_STATE: codes.WRONG_STATE,
    rules.RuleBreach.STALE_BASE: codes.STALE_BASE,
    rules.RuleBreach.BAD_SCHEDULE: codes.BAD_SCHEDULE,
    rules.RuleBreach.BAD_LIFETIME: codes.BAD_SCHEDULE,
}


def _active_or_due(now: dt.datetime) -> sa.ColumnElement[bool]:
    """The active row and any approved row now due, read in *one* statement.

    One statement sees one snapshot: two separate reads could see the old
    active row and then, after a concurrent activation, no due row, and so
    return a version that is no longer active.
    """
    return sa.or_(
        policy_versions.c.state == "active",
        sa.and_(policy_versions.c.state == "approved", policy_versions.c.activate_at <= now),
    )


_CURRENT_KEY = sa.select(
    policy_versions.c.version, policy_versions.c.state, policy_versions.c.signature
).where(
    sa.or_(
        policy_versions.c.state == "active",
        sa.and_(
            policy_versions.c.state == "approved",
            policy_versions.c.activate_at <= sa.bindparam("now", type_=UtcDateTime),
        ),
    )
)
""":func:`_active_or_due` for :class:`ActivePolicy`, built once (per-call statement
construction costs more than the query on SQLite)."""


class _Again(Exception):
    """A concurrent transaction moved the active row under a locking read: run again.

    On PostgreSQL (READ COMMITTED) ``SELECT ... WHERE state = 'active' FOR UPDATE``
    that waited for another activation re-checks the row it found, now
    ``superseded``, and returns nothing; a new statement sees the new active row.
    """


def _text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def verify_row(row: Any, verifier: CheckpointVerifier) -> StoredVersion:
    """Check one ``policy_versions`` row against the audit public key; ZID-1508 if it fails."""
    key_id = key_sha256(verifier)
    record = _record_from_row(row)
    where = f"policy version {record.version}"
    if row.signature is None or row.signer_key_sha256 is None:
        raise ZorgIdError(
            codes.STORED_POLICY_TAMPERED,
            f"{where} has no signature; expected every row to be signed with the audit key "
            "(a row written outside the engine, or by a pre-versioning engine)",
            metadata={"version": str(record.version)},
        )
    if row.signer_key_sha256 != key_id:
        raise ZorgIdError(
            codes.STORED_POLICY_TAMPERED,
            f"{where} is signed by key {row.signer_key_sha256[:16]}...; expected the audit "
            f"key {key_id[:16]}... of this CA",
            metadata={"version": str(record.version)},
        )
    if _text_sha256(record.document) != record.document_sha256:
        raise ZorgIdError(
            codes.STORED_POLICY_TAMPERED,
            f"{where}: the stored document hashes to "
            f"{_text_sha256(record.document)[:16]}..., expected "
            f"{record.document_sha256[:16]}... (the document was edited in the database)",
            metadata={"version": str(record.version)},
        )
    if not audit_keys.verify(verifier, row.signature, signed_message(record)):
        raise ZorgIdError(
            codes.STORED_POLICY_TAMPERED,
            f"{where}: the audit-key signature does not match the stored state, approvals "
            "or dates (a field was edited in the database)",
            metadata={"version": str(record.version)},
        )
    try:
        policy = parse_policy(json.loads(record.document))
    except (PolicyError, ValueError) as exc:
        raise ZorgIdError(
            codes.STORED_POLICY_TAMPERED, f"{where} no longer parses: {exc}"
        ) from None
    return StoredVersion(record=record, policy=policy)


def read_active(engine: sa.Engine, verifier: CheckpointVerifier) -> ActiveVersion | None:
    """The active version, verified with the audit *public* key only (no HSM login).

    For readers that must follow the officers' versions but hold no key, such
    as the UZI-pas verifier of the front end (``<data_dir>/ca/audit-checkpoint.pub.pem``
    gives ``verifier``). ``None`` when no version is active yet (the issuance
    runtime bootstraps one); ZID-1508 when the row does not verify. It does
    not perform due scheduled activations (that needs the signing key); the
    engine's next read through :class:`PolicyStore` does.
    """
    with engine.connect() as conn:
        conn = conn.execution_options(**{READ_ONLY: True})  # no SQLite write lock for a read
        row = conn.execute(
            sa.select(policy_versions).where(policy_versions.c.state == "active")
        ).first()
    if row is None:
        return None
    stored = verify_row(row, verifier)
    return ActiveVersion(version=stored.record.version, policy=stored.policy)


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
        engine: sa.Engine,
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
    def engine(self) -> sa.Engine:
        return self._engine

    def now(self) -> dt.datetime:
        return self._clock()

    # ---------------------------------------------------------------- reading

    def _verify(self, row: Any) -> StoredVersion:
        return verify_row(row, self._verifier)

    def _select(self, conn: sa.Connection, version: int, *, lock: bool = False) -> Any:
        query = sa.select(policy_versions).where(policy_versions.c.version == version)
        row = conn.execute(query.with_for_update() if lock else query).first()
        if row is None:
            raise ZorgIdError(
                codes.VERSION_NOT_FOUND,
                f"got version {version}; no such policy version",
                metadata={"version": str(version)},
            )
        return row

    def get(self, version: int) -> StoredVersion:
        """One version, verified."""
        with self._engine.connect() as conn:
            return self._verify(self._select(conn, version))

    def list(self) -> list[StoredVersion]:
        """Every version, newest first, each verified."""
        self.active()
        with self._engine.connect() as conn:
            rows = conn.execute(
                sa.select(policy_versions).order_by(policy_versions.c.version.desc())
            ).all()
        return [self._verify(row) for row in rows]

    def active(self) -> StoredVersion:
        """The active version now: bootstraps and performs due scheduled activations first."""
        with self._engine.connect() as conn:
            rows = conn.execute(
                sa.select(policy_versions).where(_active_or_due(self._clock()))
            ).all()
        if len(rows) == 1 and rows[0].state == "active":
            return self._verify(rows[0])
        return self._settle()

    # ---------------------------------------------------------------- writing

    def _write(self, conn: sa.Connection, record: rules.VersionRecord, *, insert: bool) -> None:
        values = _row_values(record)
        values["signature"] = audit_keys.sign(self._signer, signed_message(record))
        values["signer_key_sha256"] = self._key_id
        if insert:
            conn.execute(policy_versions.insert().values(**values))
        else:
            conn.execute(
                policy_versions.update()
                .where(policy_versions.c.version == record.version)
                .values(**values)
            )

    def _event(
        self,
        conn: sa.Connection,
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
        with self._engine.begin() as conn:
            self._event(conn, officer, action, record, outcome="refused", refusal=why[:1000])

    def _active_row(self, conn: sa.Connection) -> Any:
        return conn.execute(
            sa.select(policy_versions).where(policy_versions.c.state == "active").with_for_update()
        ).first()

    def _activate(
        self, conn: sa.Connection, record: rules.VersionRecord, officer: Officer, now: dt.datetime
    ) -> None:
        """Make ``record`` (already ACTIVE) the one active row: supersede the old one."""
        old = self._active_row(conn)
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
                with self._engine.begin() as conn:
                    active = self._active_row(conn)
                    due = [
                        self._verify(r).record
                        for r in conn.execute(
                            sa.select(policy_versions)
                            .where(
                                policy_versions.c.state == "approved",
                                policy_versions.c.activate_at <= now,
                            )
                            .order_by(policy_versions.c.activate_at, policy_versions.c.version)
                            .with_for_update()
                        ).all()
                    ]
                    for record in due:
                        self._activate(conn, rules.activate(record, now), scheduler, now)
                    if active is None and not due and not self._ever_active(conn):
                        self._bootstrap_in(conn, now, engine_actor)
                    row = conn.execute(
                        sa.select(policy_versions).where(policy_versions.c.state == "active")
                    ).first()
                    if row is None:
                        raise _Again
                    return self._verify(row)
            except (sa.exc.IntegrityError, _Again):
                continue  # another process bootstrapped or activated first: read again
        raise ZorgIdError(Code.ZID_0004, "could not settle the active policy version (contention)")

    def _ever_active(self, conn: sa.Connection) -> bool:
        """Whether any version was ever active (a fresh statement: sees concurrent commits).

        Bootstrap is for an empty store only, never for a store whose active
        row a concurrent activation is replacing right now.
        """
        found = conn.execute(
            sa.select(policy_versions.c.version)
            .where(policy_versions.c.state.in_(("active", "superseded")))
            .limit(1)
        ).first()
        return found is not None

    def _bootstrap_in(self, conn: sa.Connection, now: dt.datetime, actor: Officer) -> None:
        source_text, source = self._bootstrap()
        policy = load_policy(source_text)
        text = policy.canonical.decode("utf-8")
        highest = conn.execute(sa.select(sa.func.max(policy_versions.c.version))).scalar()
        record = rules.VersionRecord(
            version=1 if highest is None else int(highest) + 1,
            name=str(policy.version),
            document=text,
            document_sha256=_text_sha256(text),
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
                with self._engine.begin() as conn:
                    highest = conn.execute(
                        sa.select(sa.func.max(policy_versions.c.version))
                    ).scalar()
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
            except sa.exc.IntegrityError:
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
        with self._engine.begin() as conn:
            active_row = self._active_row(conn)
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
        with self._engine.begin() as conn:
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


def _key_facts(der: bytes) -> tuple[str | None, int | None, int, str | None]:
    cert = x509.load_der_x509_certificate(der)
    key = cert.public_key()
    kind: str | None = None
    bits: int | None = None
    if isinstance(key, ec.EllipticCurvePublicKey):
        kind = {"secp256r1": "ec-p256", "secp384r1": "ec-p384"}.get(key.curve.name, key.curve.name)
    elif isinstance(key, rsa.RSAPublicKey):
        kind, bits = "rsa", key.key_size
    days = (cert.not_valid_after_utc - cert.not_valid_before_utc) // dt.timedelta(days=1)
    algorithm = cert.signature_hash_algorithm
    return kind, bits, days, algorithm.name if algorithm is not None else None


def recorded_requests(
    conn: sa.Connection, *, since: dt.datetime, limit: int = 1000
) -> Iterator[RecordedRequest]:
    """The evidence a dry run reads: confirmed/redeemed registrations since ``since``.

    From ``registrations``: ``frozen_data`` (the verified UZI attributes:
    ``card_type``, ``role``), ``confirmed_at`` (else ``created_at``),
    ``policy_version``. From the certificate issued for it
    (``certificates.registration_id``), if any: key type and size, validity in
    whole days and signature hash, read from the DER itself.
    """
    query = (
        sa.select(
            registrations.c.id,
            registrations.c.frozen_data,
            registrations.c.created_at,
            registrations.c.confirmed_at,
            registrations.c.policy_version,
            certificates.c.der,
            certificates.c.policy_version.label("cert_policy_version"),
        )
        .select_from(
            registrations.outerjoin(
                certificates, certificates.c.registration_id == registrations.c.id
            )
        )
        .where(
            registrations.c.state.in_(("confirmed", "redeemed")),
            registrations.c.created_at >= since,
        )
        .order_by(registrations.c.created_at.desc(), registrations.c.id)
        .limit(limit)
    )
    for row in conn.execute(query):
        data = row.frozen_data or {}
        kind = bits = days = algorithm = None
        if row.der is not None:
            kind, bits, days, algorithm = _key_facts(row.der)
        yield RecordedRequest(
            request_id=row.id,
            at=row.confirmed_at or row.created_at,
            card_type=str(data.get("card_type", "")),
            role=str(data.get("role", "")),
            key_kind=kind,
            rsa_bits=bits,
            validity_days=days,
            signature_hash=algorithm,
            policy_version=row.cert_policy_version or row.policy_version,
        )


_KEY_SQL_QMARK = (
    "SELECT version, state, signature FROM policy_versions "
    "WHERE state = 'active' OR (state = 'approved' AND activate_at <= ?)"
)
_KEY_SQL_FORMAT = (
    "SELECT version, state, signature FROM policy_versions "
    "WHERE state = 'active' OR (state = 'approved' AND activate_at <= %s)"
)
_KEY_SQL = {"qmark": _KEY_SQL_QMARK, "format": _KEY_SQL_FORMAT, "pyformat": _KEY_SQL_FORMAT}
""":data:`_CURRENT_KEY` as driver SQL, per DB-API paramstyle, for :meth:`ActivePolicy.current`.

Written out by hand: one parameter (the UTC text of now, the stored form of
``activate_at``) and literal states, so a call needs no SQLAlchemy compilation
or type processing. A paramstyle not listed uses the SQLAlchemy statement.
"""


class ActivePolicy:
    """The active version for issuance, cached by the database's activation state.

    :meth:`current` costs one small query when nothing changed: it reads the
    active row's (version, signature) and any approved version now due; only
    when that key changes is the row verified and parsed again. Each request
    calls :meth:`current` once at its start and keeps the returned object.

    The key is read on every call -- never a time-based cache -- because
    another engine process (or host) may activate a version at any moment and
    the next request must issue under it. What is cut is the cost of that read:
    it runs pre-written SQL (:data:`_KEY_SQL`) on a kept autocommit DB-API
    connection (:class:`~issuer.store.reads.ReadConnections`): one round trip,
    several times cheaper than a SQLAlchemy ``Connection`` round (SQLite 95 ->
    ~10 us, PostgreSQL ~440 -> ~80 us), and on SQLite it takes no write lock
    (an autobegun SQLAlchemy connection would run ``BEGIN IMMEDIATE``,
    issuer/store/engine.py, and queue behind the issuance writers).
    """

    def __init__(self, store: PolicyStore) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._cached: tuple[tuple[int, bytes], ActiveVersion] | None = None
        self._sql = _KEY_SQL.get(store.engine.dialect.paramstyle)
        self._reads = ReadConnections.for_engine(store.engine)

    def _read_key(self, now: dt.datetime) -> list[tuple[int, str, bytes | None]]:
        """(version, state, signature) of the active row and any approved row due by ``now``."""
        if self._sql is None:
            with self._store.engine.connect() as conn:
                conn = conn.execution_options(**{READ_ONLY: True})  # no SQLite write lock
                rows = conn.execute(_CURRENT_KEY, {"now": now}).all()
            return [(int(r.version), str(r.state), r.signature) for r in rows]
        fetched = self._reads.fetch(self._sql, (to_utc_text(now),), one=False)
        return [(int(v), str(s), None if g is None else bytes(g)) for v, s, g in fetched]

    def current(self) -> ActiveVersion:
        rows = self._read_key(self._store.now())
        cached = self._cached
        if (
            len(rows) == 1
            and rows[0][1] == "active"
            and cached is not None
            and cached[0] == (rows[0][0], rows[0][2] or b"")
        ):
            return cached[1]
        with self._lock:
            stored = self._store.active()
            result = ActiveVersion(version=stored.record.version, policy=stored.policy)
            with self._store.engine.connect() as conn:
                signature = conn.execute(
                    sa.select(policy_versions.c.signature).where(
                        policy_versions.c.version == stored.record.version
                    )
                ).scalar_one()
            self._cached = ((stored.record.version, bytes(signature)), result)
            return result
