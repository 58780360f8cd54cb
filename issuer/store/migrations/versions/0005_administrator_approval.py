"""Administrators are approved, never self-made (issue 16): state of a validation, designations.

``organisation_admins`` gains ``state`` (pending | approved), ``approved_at`` and
``approved_by``; ``organisation_designations`` holds the UZI numbers the
operator named as administrators when registering an organisation. Rows that
exist already were made by self-service validation, which issue 16 found to
be a takeover path: they become ``pending`` and need the operator's approval.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 21:10:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from issuer.store.types import UtcDateTime

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ADMIN_STATES = "('pending', 'approved')"


def upgrade() -> None:
    """Add the state columns (existing rows pending) and the designations table."""
    with op.batch_alter_table("organisation_admins") as batch:
        batch.add_column(
            sa.Column("state", sa.String(16), nullable=True, comment="pending | approved")
        )
        batch.add_column(sa.Column("approved_at", UtcDateTime(), nullable=True))
        batch.add_column(
            sa.Column(
                "approved_by",
                sa.String(512),
                nullable=True,
                comment="designation, operator or administrator, with who",
            )
        )
    op.execute("UPDATE organisation_admins SET state = 'pending'")
    with op.batch_alter_table("organisation_admins") as batch:
        batch.alter_column("state", existing_type=sa.String(16), nullable=False)
        batch.create_check_constraint("state", f"state IN {ADMIN_STATES}")
    op.create_table(
        "organisation_designations",
        sa.Column("organisation_id", sa.String(36), nullable=False),
        sa.Column("uzi_number", sa.String(9), nullable=False),
        sa.Column("designated_at", UtcDateTime(), nullable=False),
        sa.Column("designated_by", sa.String(256), nullable=False, comment="operator identity"),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_organisation_designations_organisation_id_organisations"),
        ),
        sa.PrimaryKeyConstraint(
            "organisation_id", "uzi_number", name=op.f("pk_organisation_designations")
        ),
    )


def downgrade() -> None:
    """Drop them again."""
    op.drop_table("organisation_designations")
    with op.batch_alter_table("organisation_admins") as batch:
        batch.drop_constraint(op.f("ck_organisation_admins_state"), type_="check")
        batch.drop_column("approved_by")
        batch.drop_column("approved_at")
        batch.drop_column("state")
