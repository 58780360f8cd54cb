"""The UZI-pas certificate's notAfter kept with a registration's proof (issue 18 item 1).

``registrations.card_not_after`` caps the notAfter of every mobile-ID
certificate issued on that proof (registration, attribute registration, a reset
copying the original proof). Existing rows are filled from the card certificate
their proof stored; a row without one (a draft, or a proof never attached)
stays NULL, which issuance reads as "no card date known: the policy's
validity" -- the behaviour those rows were made under.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 00:45:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from cryptography import x509

from issuer.store.types import UtcDateTime

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COMMENT = "notAfter of card_certificate: caps the mobile ID's (NULL: policy validity)"

_registrations = sa.table(
    "registrations",
    sa.column("id", sa.String()),
    sa.column("card_certificate", sa.LargeBinary()),
    sa.column("card_not_after", UtcDateTime()),
)


def upgrade() -> None:
    """Add the nullable column; fill it from each stored card certificate."""
    op.add_column(
        "registrations",
        sa.Column("card_not_after", UtcDateTime(), nullable=True, comment=COMMENT),
    )
    conn = op.get_bind()
    rows = conn.execute(
        sa.select(_registrations.c.id, _registrations.c.card_certificate).where(
            _registrations.c.card_certificate.is_not(None)
        )
    ).all()
    for registration_id, der in rows:
        try:
            not_after = x509.load_der_x509_certificate(bytes(der)).not_valid_after_utc
        except ValueError:
            continue  # an unreadable stored card: left NULL (policy validity), as before
        conn.execute(
            _registrations.update()
            .where(_registrations.c.id == registration_id)
            .values(card_not_after=not_after)
        )


def downgrade() -> None:
    """Drop the column."""
    with op.batch_alter_table("registrations") as batch:
        batch.drop_column("card_not_after")
