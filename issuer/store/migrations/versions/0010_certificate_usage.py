"""What a certificate is for: ``certificates.usage`` (issue 19, the ZORG-ID smartcard).

The engine issues the mobile ID and, under a policy with ``[smartcard]``
enabled, the certificates of a smartcard's set (authentication, signature,
encryption). The column names which (``issuer.profile.usage.CertificateUsage``
values). Every existing row is a mobile ID: the only certificate issued before
this revision, so the default fills them.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 03:40:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COMMENT = "what the certificate is for (0010): mobile-id | card-authentication | ..."


def upgrade() -> None:
    """Add the column; existing rows are mobile IDs (the server default)."""
    op.add_column(
        "certificates",
        sa.Column(
            "usage",
            sa.String(length=24),
            nullable=False,
            server_default="mobile-id",
            comment=COMMENT,
        ),
    )


def downgrade() -> None:
    """Drop it again."""
    with op.batch_alter_table("certificates") as batch:
        batch.drop_column("usage")
