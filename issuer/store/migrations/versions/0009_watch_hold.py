"""Who placed a certificate on hold: ``certificates.held_by`` (issue 18 item 2).

With ``[uzi_watch] when_unavailable = "suspend"`` the UZI-pas watch puts the
mobile IDs of cards whose register CRL cannot be had on hold (RFC 5280
§5.3.1 ``certificateHold``) and releases them when the CRL is back without
the card. It may release only the holds it placed: the column names who
placed a hold (``uzi-watch``); a certificate revoked for any other reason, or
held by anyone else, has another value or NULL and is never made good by it.
Existing rows are NULL: no hold existed before this revision.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 02:30:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COMMENT = "who placed a certificateHold (0009): uzi-watch; NULL otherwise"


def upgrade() -> None:
    """Add the nullable column (no rows to fill: there were no holds)."""
    op.add_column(
        "certificates",
        sa.Column("held_by", sa.String(length=32), nullable=True, comment=COMMENT),
    )


def downgrade() -> None:
    """Drop it again."""
    with op.batch_alter_table("certificates") as batch:
        batch.drop_column("held_by")
