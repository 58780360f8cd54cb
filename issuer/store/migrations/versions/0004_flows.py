"""Portal flows (issue 5): UZI proof evidence, registration/validation drafts, login refusals.

``uzi_evidence`` keeps the proof behind each UZI session (card certificate,
challenge, signature, time) so a registration can carry it; ``flow_drafts``
holds a registration or organisation validation before confirmation;
``login_challenges`` learns the portal's display name and a refusal.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 14:40:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from issuer.store.types import UtcDateTime

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the two tables and add the login columns."""
    op.create_table(
        "uzi_evidence",
        sa.Column("handle_sha256", sa.String(64), nullable=False, comment="the UZI session"),
        sa.Column("challenge_id", sa.String(64), nullable=False),
        sa.Column("nonce", sa.LargeBinary(), nullable=False),
        sa.Column("card_certificate", sa.LargeBinary(), nullable=False, comment="DER"),
        sa.Column("card_chain", sa.JSON(), nullable=False, comment="list of base64 DER as sent"),
        sa.Column("signature", sa.LargeBinary(), nullable=False),
        sa.Column("signature_scheme", sa.String(32), nullable=False),
        sa.Column("portal_identity", sa.String(256), nullable=False),
        sa.Column("proven_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("handle_sha256", name=op.f("pk_uzi_evidence")),
    )
    op.create_table(
        "flow_drafts",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("portal_identity", sa.String(256), nullable=False),
        sa.Column("terms_version", sa.String(32), nullable=False),
        sa.Column("uzi_session_sha256", sa.String(64), nullable=False),
        sa.Column("identity", sa.JSON(), nullable=False, comment="the card's data as shown"),
        sa.Column("date_of_birth", sa.String(10), nullable=True, comment="ISO 8601 date"),
        sa.Column("organisation_id", sa.String(36), nullable=True),
        sa.Column("registration_id", sa.String(36), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.CheckConstraint(
            "kind IN ('registration', 'validation')", name=op.f("ck_flow_drafts_kind")
        ),
        sa.CheckConstraint(
            "state IN ('started', 'data_entered', 'confirmed', 'cancelled')",
            name=op.f("ck_flow_drafts_state"),
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_flow_drafts_organisation_id_organisations"),
        ),
        sa.ForeignKeyConstraint(
            ["registration_id"],
            ["registrations.id"],
            name=op.f("fk_flow_drafts_registration_id_registrations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flow_drafts")),
    )
    with op.batch_alter_table("login_challenges") as batch:
        batch.add_column(
            sa.Column("portal_name", sa.String(256), nullable=True, comment="shown on the phone")
        )
        batch.add_column(sa.Column("refused_at", UtcDateTime(), nullable=True))
        batch.add_column(
            sa.Column("refusal_code", sa.String(16), nullable=True, comment="catalogue code")
        )


def downgrade() -> None:
    """Drop them again."""
    with op.batch_alter_table("login_challenges") as batch:
        batch.drop_column("refusal_code")
        batch.drop_column("refused_at")
        batch.drop_column("portal_name")
    op.drop_table("flow_drafts")
    op.drop_table("uzi_evidence")
