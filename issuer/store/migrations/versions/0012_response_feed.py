"""The OCSP response feed: an index on ``ocsp_responses.produced_at`` (issue 23).

Each responder process reads, once a second, which certificates' stored responses were
produced since its last read (``ocsp.kept``), so it can keep answers in memory for a
minute and still drop a revoked one within about a second. Without the index that read
is a scan of every response (a million rows).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 19:20:00

"""

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the index (no data changes)."""
    with op.batch_alter_table("ocsp_responses", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ocsp_responses_produced_at"), ["produced_at"], unique=False
        )


def downgrade() -> None:
    """Drop the index."""
    with op.batch_alter_table("ocsp_responses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ocsp_responses_produced_at"))
