"""Policy versioning (issue 7): scheduling, expiry, who decided, the base version.

Adds to ``policy_versions``: ``name`` (the document's own version label),
``expires_at`` (an unapproved proposal expires), ``activate_at`` (a scheduled
activation), ``base_version`` (the version active when it was proposed: the
diff the officers reviewed), ``decided_by`` and ``reason`` (who approved last or
rejected, and why), and the state ``approved`` (approved, waiting for its
scheduled time). The state list is written out here, as in 0002.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 14:30:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from issuer.store.types import UtcDateTime

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_STATES = "('proposed', 'active', 'superseded', 'rejected')"
NEW_STATES = "('proposed', 'approved', 'active', 'superseded', 'rejected')"


def upgrade() -> None:
    """Add the columns and widen the state CHECK (SQLite: batch rebuild)."""
    with op.batch_alter_table("policy_versions") as batch:
        batch.add_column(
            sa.Column("name", sa.String(64), nullable=True, comment="the document's version label")
        )
        batch.add_column(
            sa.Column(
                "expires_at", UtcDateTime, nullable=True, comment="unapproved proposal expires"
            )
        )
        batch.add_column(
            sa.Column("activate_at", UtcDateTime, nullable=True, comment="scheduled activation")
        )
        batch.add_column(
            sa.Column("base_version", sa.Integer, nullable=True, comment="active when proposed")
        )
        batch.add_column(
            sa.Column(
                "decided_by", sa.String(256), nullable=True, comment="deciding approver/rejecter"
            )
        )
        batch.add_column(sa.Column("reason", sa.String(512), nullable=True))
        batch.drop_constraint(op.f("ck_policy_versions_state"), type_="check")
        batch.create_check_constraint("state", f"state IN {NEW_STATES}")


def downgrade() -> None:
    """Back to 0002 (scheduled versions become rejected: they were never active)."""
    op.execute("UPDATE policy_versions SET state = 'rejected' WHERE state = 'approved'")
    with op.batch_alter_table("policy_versions") as batch:
        batch.drop_constraint(op.f("ck_policy_versions_state"), type_="check")
        batch.create_check_constraint("state", f"state IN {OLD_STATES}")
        for name in ("reason", "decided_by", "base_version", "activate_at", "expires_at", "name"):
            batch.drop_column(name)
