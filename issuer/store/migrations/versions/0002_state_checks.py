"""State machines as CHECK constraints: registration kind/state, policy state.

Nothing passes by default: a typo in a state name in code becomes an
IntegrityError at the first write instead of a row no query ever finds.
The value lists are written out here (not imported) so this migration keeps
meaning what it meant when later code changes the lists.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 13:50:00

"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KINDS = "('registration', 'reset', 'attributes')"
STATES = "('started', 'data_entered', 'confirmed', 'redeemed', 'cancelled')"
POLICY_STATES = "('proposed', 'active', 'superseded', 'rejected')"


def upgrade() -> None:
    """Add the CHECK constraints (SQLite: batch mode recreates the tables)."""
    with op.batch_alter_table("registrations") as batch:
        batch.create_check_constraint("kind", f"kind IN {KINDS}")
        batch.create_check_constraint("state", f"state IN {STATES}")
        batch.create_check_constraint("failed_attempts", "failed_attempts >= 0")
    with op.batch_alter_table("policy_versions") as batch:
        batch.create_check_constraint("state", f"state IN {POLICY_STATES}")


def downgrade() -> None:
    """Drop them again."""
    with op.batch_alter_table("policy_versions") as batch:
        batch.drop_constraint(op.f("ck_policy_versions_state"), type_="check")
    with op.batch_alter_table("registrations") as batch:
        batch.drop_constraint(op.f("ck_registrations_failed_attempts"), type_="check")
        batch.drop_constraint(op.f("ck_registrations_state"), type_="check")
        batch.drop_constraint(op.f("ck_registrations_kind"), type_="check")
