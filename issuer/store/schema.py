"""The engine's tables (SQLAlchemy Core), shared by every engine process.

Several engine processes on several machines share one database and keep no
state of their own between requests (ARCHITECTURE.md §7), so everything a later
request needs -- challenges, sessions, tokens, serial reservations, the audit
chain head -- lives here. Rules the database can enforce are enforced here
(unique serials per issuer, single-use tokens by hash, foreign keys), not only
in Python.

Conventions:

- timestamps are :class:`~issuer.store.types.UtcDateTime` (aware UTC, same text
  on SQLite and PostgreSQL);
- identifiers of rows the engine creates are random UUID text (``String(36)``):
  no sequence shared between nodes, nothing guessable;
- secrets are never stored: enrolment tokens and session handles only as
  lowercase hex SHA-256 (``*_sha256``, ``String(64)``);
- serial numbers are lowercase hex without leading zeros (``String(40)``: at most
  20 octets, RFC 5280 §4.1.2.2); ``issuer`` is the issuing CA's identifier,
  the lowercase hex SHA-256 of its SubjectPublicKeyInfo DER;
- JSON columns hold plain data (``sa.JSON``: ``jsonb``-free, same on both).

Changing a table here needs a new migration in ``issuer/store/migrations/versions``;
``tests/store/test_migrations.py`` fails when the two disagree.
"""

from __future__ import annotations

import sqlalchemy as sa

from issuer.store.types import UtcDateTime

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
"""Deterministic constraint names so migrations can refer to them on both back ends."""

metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)

Id = sa.String(36)
Sha256Hex = sa.String(64)
SerialHex = sa.String(40)


REGISTRATION_KINDS = ("registration", "reset", "attributes")
"""Flow 2 (new user), flow 6 (PIN forgotten: new QR for a verified person), flow 5."""
REGISTRATION_STATES = ("started", "data_entered", "confirmed", "redeemed", "cancelled")
"""started -> data_entered -> confirmed (data frozen, QR issued) -> redeemed (certificate
issued); any state before redeemed -> cancelled. Enforced values: migration 0002."""
ADMIN_STATES = ("pending", "approved")
"""organisation_admins.state: a validation is a request (pending) until approved."""
POLICY_STATES = ("proposed", "approved", "active", "superseded", "rejected")
"""proposed -> active (second officer approved) -> superseded; proposed -> rejected;
proposed -> approved (activation scheduled) -> active (policies/versions.py, migration 0003)."""


def _sql_in(values: tuple[str, ...]) -> str:
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"


REGISTRATION_KINDS_SQL = _sql_in(REGISTRATION_KINDS)
REGISTRATION_STATES_SQL = _sql_in(REGISTRATION_STATES)
POLICY_STATES_SQL = _sql_in(POLICY_STATES)


def _id() -> sa.Column[str]:
    return sa.Column("id", Id, primary_key=True)


# --- people and organisations ------------------------------------------------

persons = sa.Table(
    "persons",
    metadata,
    _id(),
    sa.Column("uzi_number", sa.String(16), nullable=False, unique=True),
    sa.Column("given_names", sa.String(128), nullable=False),
    sa.Column("surname", sa.String(128), nullable=False),
    sa.Column("title", sa.String(64), nullable=True),
    sa.Column("date_of_birth", sa.String(10), nullable=True, comment="ISO 8601 date, entered"),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("frozen_at", UtcDateTime, nullable=True, comment="after this only the operator"),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Column("updated_by", sa.String(256), nullable=True, comment="operator identity"),
)
"""A healthcare professional, keyed by UZI number (the card holder's register number)."""

uzi_attributes = sa.Table(
    "uzi_attributes",
    metadata,
    _id(),
    sa.Column("person_id", Id, sa.ForeignKey("persons.id"), nullable=False, index=True),
    sa.Column("card_type", sa.String(1), nullable=False),
    sa.Column("ura", sa.String(8), nullable=False, comment="subscriber number"),
    sa.Column("role_code", sa.String(16), nullable=False),
    sa.Column("agb_code", sa.String(8), nullable=False),
    sa.Column("verified_at", UtcDateTime, nullable=False),
    sa.Column("card_certificate_sha256", Sha256Hex, nullable=False),
    sa.Column("registration_id", Id, nullable=True, comment="the proof it came from"),
    sa.Column("retired_at", UtcDateTime, nullable=True),
    sa.UniqueConstraint("person_id", "card_type", "ura", "role_code"),
)
"""One verified combination of UZI attributes of a person (one per card/role/URA)."""

organisations = sa.Table(
    "organisations",
    metadata,
    _id(),
    sa.Column("ura", sa.String(8), nullable=False, unique=True),
    sa.Column("name", sa.String(256), nullable=False),
    sa.Column("registered_at", UtcDateTime, nullable=False),
    sa.Column("registered_by", sa.String(256), nullable=False, comment="operator identity"),
)
"""An organisation pre-registered by the operator (URA + name), flow 4."""

organisation_admins = sa.Table(
    "organisation_admins",
    metadata,
    sa.Column("organisation_id", Id, sa.ForeignKey("organisations.id"), primary_key=True),
    sa.Column("person_id", Id, sa.ForeignKey("persons.id"), primary_key=True),
    sa.Column("mobile_id_id", Id, sa.ForeignKey("mobile_ids.id"), nullable=False),
    sa.Column("terms_version", sa.String(32), nullable=False),
    sa.Column("card_certificate_sha256", Sha256Hex, nullable=False),
    sa.Column("validated_at", UtcDateTime, nullable=False),
    sa.Column("revoked_at", UtcDateTime, nullable=True),
    sa.Column("state", sa.String(16), nullable=False, comment="pending | approved"),
    sa.Column("approved_at", UtcDateTime, nullable=True),
    sa.Column(
        "approved_by",
        sa.String(512),
        nullable=True,
        comment="designation, operator or administrator, with who",
    ),
    sa.CheckConstraint(f"state IN {_sql_in(ADMIN_STATES)}", name="state"),
)
"""A card holder's validation of an organisation, bound to their mobile ID (flow 4).

``pending`` is a request only; ``approved`` (by the operator's designation or
approval, or an existing administrator's approval) makes an administrator
(issue 16: never self-service). Migration 0005."""

organisation_designations = sa.Table(
    "organisation_designations",
    metadata,
    sa.Column("organisation_id", Id, sa.ForeignKey("organisations.id"), primary_key=True),
    sa.Column("uzi_number", sa.String(9), primary_key=True),
    sa.Column("designated_at", UtcDateTime, nullable=False),
    sa.Column("designated_by", sa.String(256), nullable=False, comment="operator identity"),
)
"""UZI numbers the operator named as administrators when registering the organisation."""

# --- registrations / enrolments ----------------------------------------------

registrations = sa.Table(
    "registrations",
    metadata,
    _id(),
    sa.Column(
        "kind",
        sa.String(16),
        nullable=False,
        comment="registration | reset | attributes",
    ),
    sa.Column(
        "state",
        sa.String(16),
        nullable=False,
        comment="started | data_entered | confirmed | redeemed | cancelled",
    ),
    sa.Column("portal_identity", sa.String(256), nullable=False),
    sa.Column("person_id", Id, sa.ForeignKey("persons.id"), nullable=True, index=True),
    sa.Column("terms_version", sa.String(32), nullable=True),
    sa.Column("frozen_data", sa.JSON, nullable=True, comment="identity as confirmed"),
    # evidence of the UZI-pas proof (flow 1)
    sa.Column("card_certificate", sa.LargeBinary, nullable=True, comment="DER"),
    sa.Column("card_chain", sa.JSON, nullable=True, comment="list of base64 DER"),
    sa.Column("challenge_nonce", sa.LargeBinary, nullable=True),
    sa.Column("card_signature", sa.LargeBinary, nullable=True),
    sa.Column("proven_at", UtcDateTime, nullable=True),
    sa.Column(
        "card_not_after",
        UtcDateTime,
        nullable=True,
        comment="notAfter of card_certificate: caps the mobile ID's (NULL: policy validity)",
    ),
    sa.Column("card_serial", SerialHex, nullable=True, comment="of card_certificate (0008)"),
    sa.Column(
        "card_issuer_sha256", Sha256Hex, nullable=True, comment="SHA-256 of its issuer Name DER"
    ),
    # the enrolment token (registration QR), stored as a hash only
    sa.Column("token_sha256", Sha256Hex, nullable=True, unique=True),
    sa.Column("token_expires_at", UtcDateTime, nullable=True),
    sa.Column("token_used_at", UtcDateTime, nullable=True),
    sa.Column("failed_attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("csr_sha256", Sha256Hex, nullable=True, comment="redeeming CSR, for retries"),
    sa.Column("certificate_id", Id, nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Column("confirmed_at", UtcDateTime, nullable=True),
    sa.Column("policy_version", sa.Integer, nullable=True),
    sa.CheckConstraint(f"kind IN {REGISTRATION_KINDS_SQL}", name="kind"),
    sa.CheckConstraint(f"state IN {REGISTRATION_STATES_SQL}", name="state"),
    sa.CheckConstraint("failed_attempts >= 0", name="failed_attempts"),
)
sa.Index(
    "ix_registrations_card_issuer_sha256",
    registrations.c.card_issuer_sha256,
    registrations.c.card_serial,
)
"""A registration (flow 2), a PIN-forgotten reset (flow 6) or an attribute registration (flow 5).

``card_issuer_sha256`` and ``card_serial`` name the UZI-pas certificate of the
proof as a CRL does (issuer and serial, RFC 5280 §5.1.2.3/§5.1.2.6), so the
UZI-pas watch finds the registrations of a revoked card by index (migration 0007).

The enrolment token is single use: redeem with
:func:`issuer.store.repo.consume_enrolment_token` (one ``UPDATE ... WHERE
token_used_at IS NULL``), so a hundred concurrent redemptions give one winner.
"""

mobile_ids = sa.Table(
    "mobile_ids",
    metadata,
    _id(),
    sa.Column("person_id", Id, sa.ForeignKey("persons.id"), nullable=False, index=True),
    sa.Column("spki_sha256", Sha256Hex, nullable=False, unique=True),
    sa.Column("public_key", sa.LargeBinary, nullable=False, comment="SubjectPublicKeyInfo DER"),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("retired_at", UtcDateTime, nullable=True),
)
"""A phone key pair of a person (the key stays on the phone; we keep its public key)."""

# --- issuance -----------------------------------------------------------------

serial_reservations = sa.Table(
    "serial_reservations",
    metadata,
    sa.Column("issuer", Sha256Hex, primary_key=True),
    sa.Column("serial", SerialHex, primary_key=True),
    sa.Column("request_sha256", Sha256Hex, nullable=False, comment="digest of the intent"),
    sa.Column("policy_version", sa.Integer, nullable=False),
    sa.Column("state", sa.String(8), nullable=False, comment="reserved | issued | failed"),
    sa.Column("registration_id", Id, nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("finished_at", UtcDateTime, nullable=True),
    sa.Column("failure", sa.String(512), nullable=True),
    sa.CheckConstraint("state IN ('reserved', 'issued', 'failed')", name="state"),
)
"""The intent to issue, recorded *before* the HSM signs (ARCHITECTURE.md §5 step 2).

The primary key makes a serial unique per issuer; every certificate row refers
to its reservation, so a serial is unique across reservations *and*
certificates, and a crash leaves a ``reserved`` row saying what was intended.
"""

certificates = sa.Table(
    "certificates",
    metadata,
    _id(),
    sa.Column("issuer", Sha256Hex, nullable=False),
    sa.Column("serial", SerialHex, nullable=False),
    sa.Column("der", sa.LargeBinary, nullable=False),
    sa.Column("not_before", UtcDateTime, nullable=False),
    sa.Column("not_after", UtcDateTime, nullable=False),
    sa.Column("status", sa.String(8), nullable=False, comment="good | revoked"),
    sa.Column("revoked_at", UtcDateTime, nullable=True),
    sa.Column("revocation_reason", sa.String(32), nullable=True, comment="RFC 5280 §5.3.1 name"),
    sa.Column("policy_version", sa.Integer, nullable=False),
    sa.Column("spki_sha256", Sha256Hex, nullable=False, index=True),
    sa.Column("mobile_id_id", Id, sa.ForeignKey("mobile_ids.id"), nullable=True, index=True),
    sa.Column("person_id", Id, sa.ForeignKey("persons.id"), nullable=True, index=True),
    sa.Column("registration_id", Id, sa.ForeignKey("registrations.id"), nullable=True),
    sa.Column("superseded_by", Id, nullable=True),
    sa.Column("issued_at", UtcDateTime, nullable=False),
    sa.Column(
        "held_by",
        sa.String(32),
        nullable=True,
        comment="who placed a certificateHold (0009): uzi-watch; NULL otherwise",
    ),
    sa.Column(
        "usage",
        sa.String(24),
        nullable=False,
        server_default="mobile-id",
        comment="what the certificate is for (0010): mobile-id | card-authentication | ...",
    ),
    sa.UniqueConstraint("issuer", "serial"),
    sa.ForeignKeyConstraint(
        ["issuer", "serial"], ["serial_reservations.issuer", "serial_reservations.serial"]
    ),
    sa.CheckConstraint("status IN ('good', 'revoked')", name="status"),
)
"""Every certificate the engine signed, with its status for OCSP and CRL."""

ocsp_responses = sa.Table(
    "ocsp_responses",
    metadata,
    sa.Column("issuer", Sha256Hex, primary_key=True),
    sa.Column("serial", SerialHex, primary_key=True),
    sa.Column("der", sa.LargeBinary, nullable=False),
    sa.Column("this_update", UtcDateTime, nullable=False),
    sa.Column("next_update", UtcDateTime, nullable=False, index=True),
    sa.Column("produced_at", UtcDateTime, nullable=False, index=True),
    sa.ForeignKeyConstraint(["issuer", "serial"], ["certificates.issuer", "certificates.serial"]),
)
"""The current pre-signed OCSP response of each certificate (RFC 6960, RFC 5019); the
``produced_at`` index serves the responders' change feed (``ocsp.kept``, 0012)."""

crls = sa.Table(
    "crls",
    metadata,
    sa.Column("issuer", Sha256Hex, primary_key=True),
    sa.Column("number", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("der", sa.LargeBinary, nullable=False),
    sa.Column("this_update", UtcDateTime, nullable=False),
    sa.Column("next_update", UtcDateTime, nullable=False),
)
"""Every CRL signed per issuer; the CRL number is monotonic (RFC 5280 §5.2.3)."""

# --- UZI proof and login ------------------------------------------------------

uzi_challenges = sa.Table(
    "uzi_challenges",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("nonce", sa.LargeBinary, nullable=False),
    sa.Column("portal_identity", sa.String(256), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("expires_at", UtcDateTime, nullable=False, index=True),
    sa.Column("used_at", UtcDateTime, nullable=True),
)
"""UZI-pas proof challenges (flow 1); consumed once by ``UPDATE ... WHERE used_at IS NULL``."""

uzi_sessions = sa.Table(
    "uzi_sessions",
    metadata,
    sa.Column("handle_sha256", Sha256Hex, primary_key=True),
    sa.Column("purpose", sa.String(32), nullable=False),
    sa.Column("portal_identity", sa.String(256), nullable=False),
    sa.Column("identity", sa.JSON, nullable=False, comment="the verified UZI identity"),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("expires_at", UtcDateTime, nullable=False, index=True),
    sa.Column("used_at", UtcDateTime, nullable=True),
)
"""Short-lived proof that a UZI-pas was present, bound to one portal identity and purpose."""

login_challenges = sa.Table(
    "login_challenges",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("nonce", sa.LargeBinary, nullable=False),
    sa.Column("portal_identity", sa.String(256), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("expires_at", UtcDateTime, nullable=False, index=True),
    sa.Column("answered_at", UtcDateTime, nullable=True),
    sa.Column("certificate_id", Id, sa.ForeignKey("certificates.id"), nullable=True),
    sa.Column("signature", sa.LargeBinary, nullable=True),
    sa.Column("collected_at", UtcDateTime, nullable=True, comment="session handed to the portal"),
    sa.Column("portal_name", sa.String(256), nullable=True, comment="shown on the phone"),
    sa.Column("refused_at", UtcDateTime, nullable=True),
    sa.Column("refusal_code", sa.String(16), nullable=True, comment="catalogue code"),
)
"""Login QR challenges (flow 3): answered once by the phone, collected once by the portal."""

login_sessions = sa.Table(
    "login_sessions",
    metadata,
    sa.Column("handle_sha256", Sha256Hex, primary_key=True),
    sa.Column("portal_identity", sa.String(256), nullable=False),
    sa.Column("person_id", Id, sa.ForeignKey("persons.id"), nullable=False, index=True),
    sa.Column("mobile_id_id", Id, sa.ForeignKey("mobile_ids.id"), nullable=False, index=True),
    sa.Column("certificate_id", Id, sa.ForeignKey("certificates.id"), nullable=False),
    sa.Column("login_challenge_id", sa.String(64), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("expires_at", UtcDateTime, nullable=False, index=True),
    sa.Column("revoked_at", UtcDateTime, nullable=True),
)
"""A logged-in person, proven by their mobile ID; the handle is stored as a hash only.

``revoked_at`` is set by every revocation of a certificate of the mobile ID
(:func:`issuer.store.repo.revoke_certificate`): the session ends for good.
Indexed by mobile ID and person (migration 0006)."""

# --- policy -------------------------------------------------------------------

policy_versions = sa.Table(
    "policy_versions",
    metadata,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("document", sa.Text, nullable=False, comment="the TOML text"),
    sa.Column("document_sha256", Sha256Hex, nullable=False),
    sa.Column(
        "state",
        sa.String(16),
        nullable=False,
        comment="proposed | active | superseded | rejected",
    ),
    sa.Column("proposed_by", sa.String(256), nullable=False),
    sa.Column("proposed_at", UtcDateTime, nullable=False),
    sa.Column("approvals", sa.JSON, nullable=False, comment="[{by, at}] four-eyes approvals"),
    sa.Column("decided_at", UtcDateTime, nullable=True),
    sa.Column("activated_at", UtcDateTime, nullable=True),
    sa.Column("signature", sa.LargeBinary, nullable=True),
    sa.Column("signer_key_sha256", Sha256Hex, nullable=True),
    sa.Column("name", sa.String(64), nullable=True, comment="the document's version label"),
    sa.Column("expires_at", UtcDateTime, nullable=True, comment="unapproved proposal expires"),
    sa.Column("activate_at", UtcDateTime, nullable=True, comment="scheduled activation"),
    sa.Column("base_version", sa.Integer, nullable=True, comment="active when proposed"),
    sa.Column("decided_by", sa.String(256), nullable=True, comment="deciding approver/rejecter"),
    sa.Column("reason", sa.String(512), nullable=True),
    sa.CheckConstraint(f"state IN {POLICY_STATES_SQL}", name="state"),
)
"""Versions of the issuance policy; active only after a second security officer approves."""

# --- audit ------------------------------------------------------------------

audit_events = sa.Table(
    "audit_events",
    metadata,
    sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("occurred_at", UtcDateTime, nullable=False),
    sa.Column("actor_role", sa.String(32), nullable=False),
    sa.Column("actor_identity", sa.String(512), nullable=False),
    sa.Column("action", sa.String(64), nullable=False, index=True),
    sa.Column("subject", sa.String(512), nullable=False),
    sa.Column("outcome", sa.String(16), nullable=False),
    sa.Column("details", sa.Text, nullable=False, comment="canonical JSON"),
    sa.Column("prev_hash", Sha256Hex, nullable=False),
    sa.Column("hash", Sha256Hex, nullable=False),
)
"""The append-only, hash-chained audit log (see docs/audit.md for the encoding)."""

audit_head = sa.Table(
    "audit_head",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("hash", Sha256Hex, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=True),
    sa.CheckConstraint("id = 1", name="single_row"),
)
"""The one row that serialises appends (locked FOR UPDATE) and records the chain's end."""

audit_checkpoints = sa.Table(
    "audit_checkpoints",
    metadata,
    sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("hash", Sha256Hex, nullable=False),
    sa.Column("signed_at", UtcDateTime, nullable=False),
    sa.Column("key_sha256", Sha256Hex, nullable=False, comment="SHA-256 of the SPKI DER"),
    sa.Column("signature", sa.LargeBinary, nullable=False),
)
"""Signed statements "the chain had hash H at seq N", made with the HSM audit key."""

# --- portal flows (issue 5) ---------------------------------------------------

FLOW_DRAFT_KINDS = ("registration", "validation")
"""Flow 2 (register as user) and flow 4 (validate organisation) before their confirmation."""
FLOW_DRAFT_STATES = ("started", "data_entered", "confirmed", "cancelled")
"""started (terms + UZI proof) -> data_entered (date of birth) -> confirmed (frozen)."""

uzi_evidence = sa.Table(
    "uzi_evidence",
    metadata,
    sa.Column("handle_sha256", Sha256Hex, primary_key=True, comment="the UZI session"),
    sa.Column("challenge_id", sa.String(64), nullable=False),
    sa.Column("nonce", sa.LargeBinary, nullable=False),
    sa.Column("card_certificate", sa.LargeBinary, nullable=False, comment="DER"),
    sa.Column("card_chain", sa.JSON, nullable=False, comment="list of base64 DER as sent"),
    sa.Column("signature", sa.LargeBinary, nullable=False),
    sa.Column("signature_scheme", sa.String(32), nullable=False),
    sa.Column("portal_identity", sa.String(256), nullable=False),
    sa.Column("proven_at", UtcDateTime, nullable=False),
)
"""The proof behind a UZI session (flow 1): copied onto the registration it leads to."""

flow_drafts = sa.Table(
    "flow_drafts",
    metadata,
    _id(),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("portal_identity", sa.String(256), nullable=False),
    sa.Column("terms_version", sa.String(32), nullable=False),
    sa.Column("uzi_session_sha256", Sha256Hex, nullable=False),
    sa.Column("identity", sa.JSON, nullable=False, comment="the card's data as shown"),
    sa.Column("date_of_birth", sa.String(10), nullable=True, comment="ISO 8601 date"),
    sa.Column("organisation_id", Id, sa.ForeignKey("organisations.id"), nullable=True),
    sa.Column("registration_id", Id, sa.ForeignKey("registrations.id"), nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Column("expires_at", UtcDateTime, nullable=False),
    sa.CheckConstraint("kind IN ('registration', 'validation')", name="kind"),
    sa.CheckConstraint(
        "state IN ('started', 'data_entered', 'confirmed', 'cancelled')", name="state"
    ),
)
"""A registration (flow 2) or organisation validation (flow 4) the portal is walking through."""

uzi_watch_crls = sa.Table(
    "uzi_watch_crls",
    metadata,
    sa.Column("url", sa.String(512), primary_key=True, comment="CRL distribution point"),
    sa.Column("issuer_sha256", Sha256Hex, nullable=True, comment="SHA-256 of the CRL issuer"),
    sa.Column("crl_number", sa.BigInteger, nullable=True),
    sa.Column("crl_sha256", Sha256Hex, nullable=True),
    sa.Column("this_update", UtcDateTime, nullable=True),
    sa.Column("next_update", UtcDateTime, nullable=True),
    sa.Column("first_watched_at", UtcDateTime, nullable=False),
    sa.Column("last_fetch_at", UtcDateTime, nullable=True),
    sa.Column("last_success_at", UtcDateTime, nullable=True),
    sa.Column("next_fetch_at", UtcDateTime, nullable=True),
    sa.Column("last_error", sa.String(512), nullable=True),
    sa.Column("reported_at", UtcDateTime, nullable=True, comment="unavailable too long"),
    sa.Column("revocations", sa.Integer, nullable=False, server_default="0"),
)
"""The UZI-pas watch's state per UZI-register CRL (issue 18, migration 0007).

Shared by the server's background watch and ``zorgid uzi watch --once``
(cron), so ``zorgid uzi watch status`` reads it from any process: the last
CRL that verified under the trust set, when it was fetched and is due again,
why the last fetch failed, and how many mobile-ID certificates it revoked.
"""

# --- smartcards (issue 19, migration 0011) --------------------------------------

CARD_STATES = ("issuing", "active", "revoked", "superseded")
"""issuing (ticket claimed, certificates being made) -> active -> revoked | superseded."""
CARD_SLOTS = ("authentication", "non-repudiation", "encryption")

smartcard_tickets = sa.Table(
    "smartcard_tickets",
    metadata,
    _id(),
    sa.Column("token_sha256", Sha256Hex, nullable=False, unique=True),
    sa.Column("portal_identity", sa.String(256), nullable=False),
    sa.Column("person_id", Id, sa.ForeignKey("persons.id"), nullable=False, index=True),
    sa.Column("mobile_id_id", Id, sa.ForeignKey("mobile_ids.id"), nullable=False),
    sa.Column("registration_id", Id, sa.ForeignKey("registrations.id"), nullable=False),
    sa.Column("replaces_card_id", Id, nullable=True, comment="the card a replacement supersedes"),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("expires_at", UtcDateTime, nullable=False),
    sa.Column("used_at", UtcDateTime, nullable=True, comment="claimed by a redemption"),
    sa.Column("csrs_sha256", Sha256Hex, nullable=True, comment="the claiming CSR set"),
    sa.Column("card_id", Id, nullable=True),
    sa.Column("completed_at", UtcDateTime, nullable=True),
)
"""A card enrolment ticket, stored as a hash only; single use by one conditional UPDATE."""

smartcards = sa.Table(
    "smartcards",
    metadata,
    _id(),
    sa.Column("person_id", Id, sa.ForeignKey("persons.id"), nullable=False, index=True),
    sa.Column("mobile_id_id", Id, sa.ForeignKey("mobile_ids.id"), nullable=False),
    sa.Column("registration_id", Id, sa.ForeignKey("registrations.id"), nullable=False),
    sa.Column("ticket_id", Id, sa.ForeignKey("smartcard_tickets.id"), nullable=False, unique=True),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("revoked_at", UtcDateTime, nullable=True),
    sa.Column("revocation_reason", sa.String(32), nullable=True),
    sa.CheckConstraint(f"state IN {_sql_in(CARD_STATES)}", name="state"),
)
"""A person's ZORG-ID smartcard, issued on the evidence of a registration (its mobile ID's)."""

smartcard_certificates = sa.Table(
    "smartcard_certificates",
    metadata,
    sa.Column("card_id", Id, sa.ForeignKey("smartcards.id"), primary_key=True),
    sa.Column("slot", sa.String(16), primary_key=True),
    sa.Column("certificate_id", Id, sa.ForeignKey("certificates.id"), nullable=False, unique=True),
    sa.CheckConstraint(f"slot IN {_sql_in(CARD_SLOTS)}", name="slot"),
)
"""One certificate per slot of a card; the primary key makes each slot issued once."""
