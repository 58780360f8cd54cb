"""Login sessions by mobile ID and by person (issue 16 items 6 and 11).

A revocation ends every login session of the certificate's mobile ID in its
own transaction (``issuer.store.repo.revoke_certificate``), and a portal's
certificate reads look up whether it opened a session of the person
(``issuer.issuance.certificates.acted_for_by``): both by an index, not a scan
of every session.

Revision ID: 0006
Revises: 0004
Create Date: 2026-12-06 21:00:00

"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Index ``login_sessions`` by ``mobile_id_id`` and by ``person_id``."""
    with op.batch_alter_table("login_sessions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_login_sessions_mobile_id_id"), ["mobile_id_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_login_sessions_person_id"), ["person_id"], unique=False
        )


def downgrade() -> None:
    """Drop the two indexes."""
    with op.batch_alter_table("login_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_login_sessions_person_id"))
        batch_op.drop_index(batch_op.f("ix_login_sessions_mobile_id_id"))
