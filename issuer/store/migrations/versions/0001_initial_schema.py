"""Initial schema: every table of the engine, and the audit chain's genesis head row.

Revision ID: 0001
Revises:
Create Date: 2026-11-28 13:30:44.077450

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "audit_checkpoints",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("signed_at", sa.String(length=27), nullable=False),
        sa.Column(
            "key_sha256", sa.String(length=64), nullable=False, comment="SHA-256 of the SPKI DER"
        ),
        sa.Column("signature", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_checkpoints")),
    )
    op.create_table(
        "audit_events",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("occurred_at", sa.String(length=27), nullable=False),
        sa.Column("actor_role", sa.String(length=32), nullable=False),
        sa.Column("actor_identity", sa.String(length=512), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=512), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("details", sa.Text(), nullable=False, comment="canonical JSON"),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_events")),
    )
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_events_action"), ["action"], unique=False)

    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("updated_at", sa.String(length=27), nullable=True),
        sa.CheckConstraint("id = 1", name=op.f("ck_audit_head_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_head")),
    )
    op.create_table(
        "crls",
        sa.Column("issuer", sa.String(length=64), nullable=False),
        sa.Column("number", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("der", sa.LargeBinary(), nullable=False),
        sa.Column("this_update", sa.String(length=27), nullable=False),
        sa.Column("next_update", sa.String(length=27), nullable=False),
        sa.PrimaryKeyConstraint("issuer", "number", name=op.f("pk_crls")),
    )
    op.create_table(
        "organisations",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("ura", sa.String(length=8), nullable=False),
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("registered_at", sa.String(length=27), nullable=False),
        sa.Column(
            "registered_by", sa.String(length=256), nullable=False, comment="operator identity"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organisations")),
        sa.UniqueConstraint("ura", name=op.f("uq_organisations_ura")),
    )
    op.create_table(
        "persons",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("uzi_number", sa.String(length=16), nullable=False),
        sa.Column("given_names", sa.String(length=128), nullable=False),
        sa.Column("surname", sa.String(length=128), nullable=False),
        sa.Column("title", sa.String(length=64), nullable=True),
        sa.Column(
            "date_of_birth", sa.String(length=10), nullable=True, comment="ISO 8601 date, entered"
        ),
        sa.Column("created_at", sa.String(length=27), nullable=False),
        sa.Column(
            "frozen_at", sa.String(length=27), nullable=True, comment="after this only the operator"
        ),
        sa.Column("updated_at", sa.String(length=27), nullable=False),
        sa.Column("updated_by", sa.String(length=256), nullable=True, comment="operator identity"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_persons")),
        sa.UniqueConstraint("uzi_number", name=op.f("uq_persons_uzi_number")),
    )
    op.create_table(
        "policy_versions",
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("document", sa.Text(), nullable=False, comment="the TOML text"),
        sa.Column("document_sha256", sa.String(length=64), nullable=False),
        sa.Column(
            "state",
            sa.String(length=16),
            nullable=False,
            comment="proposed | active | superseded | rejected",
        ),
        sa.Column("proposed_by", sa.String(length=256), nullable=False),
        sa.Column("proposed_at", sa.String(length=27), nullable=False),
        sa.Column("approvals", sa.JSON(), nullable=False, comment="[{by, at}] four-eyes approvals"),
        sa.Column("decided_at", sa.String(length=27), nullable=True),
        sa.Column("activated_at", sa.String(length=27), nullable=True),
        sa.Column("signature", sa.LargeBinary(), nullable=True),
        sa.Column("signer_key_sha256", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_policy_versions")),
    )
    op.create_table(
        "serial_reservations",
        sa.Column("issuer", sa.String(length=64), nullable=False),
        sa.Column("serial", sa.String(length=40), nullable=False),
        sa.Column(
            "request_sha256", sa.String(length=64), nullable=False, comment="digest of the intent"
        ),
        sa.Column("policy_version", sa.Integer(), nullable=False),
        sa.Column(
            "state", sa.String(length=8), nullable=False, comment="reserved | issued | failed"
        ),
        sa.Column("registration_id", sa.String(length=36), nullable=True),
        sa.Column("created_at", sa.String(length=27), nullable=False),
        sa.Column("finished_at", sa.String(length=27), nullable=True),
        sa.Column("failure", sa.String(length=512), nullable=True),
        sa.CheckConstraint(
            "state IN ('reserved', 'issued', 'failed')", name=op.f("ck_serial_reservations_state")
        ),
        sa.PrimaryKeyConstraint("issuer", "serial", name=op.f("pk_serial_reservations")),
    )
    op.create_table(
        "uzi_challenges",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("nonce", sa.LargeBinary(), nullable=False),
        sa.Column("portal_identity", sa.String(length=256), nullable=False),
        sa.Column("created_at", sa.String(length=27), nullable=False),
        sa.Column("expires_at", sa.String(length=27), nullable=False),
        sa.Column("used_at", sa.String(length=27), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_uzi_challenges")),
    )
    with op.batch_alter_table("uzi_challenges", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_uzi_challenges_expires_at"), ["expires_at"], unique=False
        )

    op.create_table(
        "uzi_sessions",
        sa.Column("handle_sha256", sa.String(length=64), nullable=False),
        sa.Column("purpose", sa.String(length=32), nullable=False),
        sa.Column("portal_identity", sa.String(length=256), nullable=False),
        sa.Column("identity", sa.JSON(), nullable=False, comment="the verified UZI identity"),
        sa.Column("created_at", sa.String(length=27), nullable=False),
        sa.Column("expires_at", sa.String(length=27), nullable=False),
        sa.Column("used_at", sa.String(length=27), nullable=True),
        sa.PrimaryKeyConstraint("handle_sha256", name=op.f("pk_uzi_sessions")),
    )
    with op.batch_alter_table("uzi_sessions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_uzi_sessions_expires_at"), ["expires_at"], unique=False
        )

    op.create_table(
        "mobile_ids",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("person_id", sa.String(length=36), nullable=False),
        sa.Column("spki_sha256", sa.String(length=64), nullable=False),
        sa.Column(
            "public_key", sa.LargeBinary(), nullable=False, comment="SubjectPublicKeyInfo DER"
        ),
        sa.Column("created_at", sa.String(length=27), nullable=False),
        sa.Column("retired_at", sa.String(length=27), nullable=True),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.id"], name=op.f("fk_mobile_ids_person_id_persons")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mobile_ids")),
        sa.UniqueConstraint("spki_sha256", name=op.f("uq_mobile_ids_spki_sha256")),
    )
    with op.batch_alter_table("mobile_ids", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_mobile_ids_person_id"), ["person_id"], unique=False)

    op.create_table(
        "registrations",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column(
            "kind",
            sa.String(length=16),
            nullable=False,
            comment="registration | reset | attributes",
        ),
        sa.Column(
            "state",
            sa.String(length=16),
            nullable=False,
            comment="started | data_entered | confirmed | redeemed | cancelled",
        ),
        sa.Column("portal_identity", sa.String(length=256), nullable=False),
        sa.Column("person_id", sa.String(length=36), nullable=True),
        sa.Column("terms_version", sa.String(length=32), nullable=True),
        sa.Column("frozen_data", sa.JSON(), nullable=True, comment="identity as confirmed"),
        sa.Column("card_certificate", sa.LargeBinary(), nullable=True, comment="DER"),
        sa.Column("card_chain", sa.JSON(), nullable=True, comment="list of base64 DER"),
        sa.Column("challenge_nonce", sa.LargeBinary(), nullable=True),
        sa.Column("card_signature", sa.LargeBinary(), nullable=True),
        sa.Column("proven_at", sa.String(length=27), nullable=True),
        sa.Column("token_sha256", sa.String(length=64), nullable=True),
        sa.Column("token_expires_at", sa.String(length=27), nullable=True),
        sa.Column("token_used_at", sa.String(length=27), nullable=True),
        sa.Column("failed_attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column(
            "csr_sha256", sa.String(length=64), nullable=True, comment="redeeming CSR, for retries"
        ),
        sa.Column("certificate_id", sa.String(length=36), nullable=True),
        sa.Column("created_at", sa.String(length=27), nullable=False),
        sa.Column("updated_at", sa.String(length=27), nullable=False),
        sa.Column("confirmed_at", sa.String(length=27), nullable=True),
        sa.Column("policy_version", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.id"], name=op.f("fk_registrations_person_id_persons")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registrations")),
        sa.UniqueConstraint("token_sha256", name=op.f("uq_registrations_token_sha256")),
    )
    with op.batch_alter_table("registrations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_registrations_person_id"), ["person_id"], unique=False)

    op.create_table(
        "uzi_attributes",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("person_id", sa.String(length=36), nullable=False),
        sa.Column("card_type", sa.String(length=1), nullable=False),
        sa.Column("ura", sa.String(length=8), nullable=False, comment="subscriber number"),
        sa.Column("role_code", sa.String(length=16), nullable=False),
        sa.Column("agb_code", sa.String(length=8), nullable=False),
        sa.Column("verified_at", sa.String(length=27), nullable=False),
        sa.Column("card_certificate_sha256", sa.String(length=64), nullable=False),
        sa.Column(
            "registration_id", sa.String(length=36), nullable=True, comment="the proof it came from"
        ),
        sa.Column("retired_at", sa.String(length=27), nullable=True),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.id"], name=op.f("fk_uzi_attributes_person_id_persons")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_uzi_attributes")),
        sa.UniqueConstraint(
            "person_id",
            "card_type",
            "ura",
            "role_code",
            name=op.f("uq_uzi_attributes_person_id_card_type_ura_role_code"),
        ),
    )
    with op.batch_alter_table("uzi_attributes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_uzi_attributes_person_id"), ["person_id"], unique=False
        )

    op.create_table(
        "certificates",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("issuer", sa.String(length=64), nullable=False),
        sa.Column("serial", sa.String(length=40), nullable=False),
        sa.Column("der", sa.LargeBinary(), nullable=False),
        sa.Column("not_before", sa.String(length=27), nullable=False),
        sa.Column("not_after", sa.String(length=27), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False, comment="good | revoked"),
        sa.Column("revoked_at", sa.String(length=27), nullable=True),
        sa.Column(
            "revocation_reason", sa.String(length=32), nullable=True, comment="RFC 5280 §5.3.1 name"
        ),
        sa.Column("policy_version", sa.Integer(), nullable=False),
        sa.Column("spki_sha256", sa.String(length=64), nullable=False),
        sa.Column("mobile_id_id", sa.String(length=36), nullable=True),
        sa.Column("person_id", sa.String(length=36), nullable=True),
        sa.Column("registration_id", sa.String(length=36), nullable=True),
        sa.Column("superseded_by", sa.String(length=36), nullable=True),
        sa.Column("issued_at", sa.String(length=27), nullable=False),
        sa.CheckConstraint("status IN ('good', 'revoked')", name=op.f("ck_certificates_status")),
        sa.ForeignKeyConstraint(
            ["issuer", "serial"],
            ["serial_reservations.issuer", "serial_reservations.serial"],
            name=op.f("fk_certificates_issuer_serial_serial_reservations"),
        ),
        sa.ForeignKeyConstraint(
            ["mobile_id_id"],
            ["mobile_ids.id"],
            name=op.f("fk_certificates_mobile_id_id_mobile_ids"),
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.id"], name=op.f("fk_certificates_person_id_persons")
        ),
        sa.ForeignKeyConstraint(
            ["registration_id"],
            ["registrations.id"],
            name=op.f("fk_certificates_registration_id_registrations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_certificates")),
        sa.UniqueConstraint("issuer", "serial", name=op.f("uq_certificates_issuer_serial")),
    )
    with op.batch_alter_table("certificates", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_certificates_mobile_id_id"), ["mobile_id_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_certificates_person_id"), ["person_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_certificates_spki_sha256"), ["spki_sha256"], unique=False
        )

    op.create_table(
        "organisation_admins",
        sa.Column("organisation_id", sa.String(length=36), nullable=False),
        sa.Column("person_id", sa.String(length=36), nullable=False),
        sa.Column("mobile_id_id", sa.String(length=36), nullable=False),
        sa.Column("terms_version", sa.String(length=32), nullable=False),
        sa.Column("card_certificate_sha256", sa.String(length=64), nullable=False),
        sa.Column("validated_at", sa.String(length=27), nullable=False),
        sa.Column("revoked_at", sa.String(length=27), nullable=True),
        sa.ForeignKeyConstraint(
            ["mobile_id_id"],
            ["mobile_ids.id"],
            name=op.f("fk_organisation_admins_mobile_id_id_mobile_ids"),
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_organisation_admins_organisation_id_organisations"),
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.id"], name=op.f("fk_organisation_admins_person_id_persons")
        ),
        sa.PrimaryKeyConstraint(
            "organisation_id", "person_id", name=op.f("pk_organisation_admins")
        ),
    )
    op.create_table(
        "login_challenges",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("nonce", sa.LargeBinary(), nullable=False),
        sa.Column("portal_identity", sa.String(length=256), nullable=False),
        sa.Column("created_at", sa.String(length=27), nullable=False),
        sa.Column("expires_at", sa.String(length=27), nullable=False),
        sa.Column("answered_at", sa.String(length=27), nullable=True),
        sa.Column("certificate_id", sa.String(length=36), nullable=True),
        sa.Column("signature", sa.LargeBinary(), nullable=True),
        sa.Column(
            "collected_at",
            sa.String(length=27),
            nullable=True,
            comment="session handed to the portal",
        ),
        sa.ForeignKeyConstraint(
            ["certificate_id"],
            ["certificates.id"],
            name=op.f("fk_login_challenges_certificate_id_certificates"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_challenges")),
    )
    with op.batch_alter_table("login_challenges", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_login_challenges_expires_at"), ["expires_at"], unique=False
        )

    op.create_table(
        "login_sessions",
        sa.Column("handle_sha256", sa.String(length=64), nullable=False),
        sa.Column("portal_identity", sa.String(length=256), nullable=False),
        sa.Column("person_id", sa.String(length=36), nullable=False),
        sa.Column("mobile_id_id", sa.String(length=36), nullable=False),
        sa.Column("certificate_id", sa.String(length=36), nullable=False),
        sa.Column("login_challenge_id", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.String(length=27), nullable=False),
        sa.Column("expires_at", sa.String(length=27), nullable=False),
        sa.Column("revoked_at", sa.String(length=27), nullable=True),
        sa.ForeignKeyConstraint(
            ["certificate_id"],
            ["certificates.id"],
            name=op.f("fk_login_sessions_certificate_id_certificates"),
        ),
        sa.ForeignKeyConstraint(
            ["mobile_id_id"],
            ["mobile_ids.id"],
            name=op.f("fk_login_sessions_mobile_id_id_mobile_ids"),
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.id"], name=op.f("fk_login_sessions_person_id_persons")
        ),
        sa.PrimaryKeyConstraint("handle_sha256", name=op.f("pk_login_sessions")),
    )
    with op.batch_alter_table("login_sessions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_login_sessions_expires_at"), ["expires_at"], unique=False
        )

    op.create_table(
        "ocsp_responses",
        sa.Column("issuer", sa.String(length=64), nullable=False),
        sa.Column("serial", sa.String(length=40), nullable=False),
        sa.Column("der", sa.LargeBinary(), nullable=False),
        sa.Column("this_update", sa.String(length=27), nullable=False),
        sa.Column("next_update", sa.String(length=27), nullable=False),
        sa.Column("produced_at", sa.String(length=27), nullable=False),
        sa.ForeignKeyConstraint(
            ["issuer", "serial"],
            ["certificates.issuer", "certificates.serial"],
            name=op.f("fk_ocsp_responses_issuer_serial_certificates"),
        ),
        sa.PrimaryKeyConstraint("issuer", "serial", name=op.f("pk_ocsp_responses")),
    )
    with op.batch_alter_table("ocsp_responses", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ocsp_responses_next_update"), ["next_update"], unique=False
        )

    # The audit chain starts empty: seq 0 and the all-zero genesis hash (docs/audit.md).
    head = sa.table(
        "audit_head",
        sa.column("id", sa.Integer()),
        sa.column("seq", sa.BigInteger()),
        sa.column("hash", sa.String(64)),
    )
    op.bulk_insert(head, [{"id": 1, "seq": 0, "hash": "0" * 64}])


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("ocsp_responses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ocsp_responses_next_update"))

    op.drop_table("ocsp_responses")
    with op.batch_alter_table("login_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_login_sessions_expires_at"))

    op.drop_table("login_sessions")
    with op.batch_alter_table("login_challenges", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_login_challenges_expires_at"))

    op.drop_table("login_challenges")
    op.drop_table("organisation_admins")
    with op.batch_alter_table("certificates", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_certificates_spki_sha256"))
        batch_op.drop_index(batch_op.f("ix_certificates_person_id"))
        batch_op.drop_index(batch_op.f("ix_certificates_mobile_id_id"))

    op.drop_table("certificates")
    with op.batch_alter_table("uzi_attributes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_uzi_attributes_person_id"))

    op.drop_table("uzi_attributes")
    with op.batch_alter_table("registrations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_registrations_person_id"))

    op.drop_table("registrations")
    with op.batch_alter_table("mobile_ids", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mobile_ids_person_id"))

    op.drop_table("mobile_ids")
    with op.batch_alter_table("uzi_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_uzi_sessions_expires_at"))

    op.drop_table("uzi_sessions")
    with op.batch_alter_table("uzi_challenges", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_uzi_challenges_expires_at"))

    op.drop_table("uzi_challenges")
    op.drop_table("serial_reservations")
    op.drop_table("policy_versions")
    op.drop_table("persons")
    op.drop_table("organisations")
    op.drop_table("crls")
    op.drop_table("audit_head")
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_events_action"))

    op.drop_table("audit_events")
    op.drop_table("audit_checkpoints")
