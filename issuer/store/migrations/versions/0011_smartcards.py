"""ZORG-ID smartcards (issue 19): card enrolment tickets, cards, their certificates.

``smartcard_tickets`` holds the single-use ticket of ``StartSmartcard`` (as a
SHA-256 only, like enrolment tokens) and its claim by a redemption;
``smartcards`` a person's card and its state; ``smartcard_certificates`` one
certificate per slot of a card. New tables only: no rows to fill.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 03:30:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from issuer.store.types import UtcDateTime

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}")
    )


def upgrade() -> None:
    """Create the three tables."""
    op.create_table(
        "smartcard_tickets",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("token_sha256", sa.String(64), nullable=False),
        sa.Column("portal_identity", sa.String(256), nullable=False),
        sa.Column("person_id", sa.String(36), nullable=False),
        sa.Column("mobile_id_id", sa.String(36), nullable=False),
        sa.Column("registration_id", sa.String(36), nullable=False),
        sa.Column(
            "replaces_card_id",
            sa.String(36),
            nullable=True,
            comment="the card a replacement supersedes",
        ),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.Column("used_at", UtcDateTime(), nullable=True, comment="claimed by a redemption"),
        sa.Column("csrs_sha256", sa.String(64), nullable=True, comment="the claiming CSR set"),
        sa.Column("card_id", sa.String(36), nullable=True),
        sa.Column("completed_at", UtcDateTime(), nullable=True),
        _fk("smartcard_tickets", "person_id", "persons"),
        _fk("smartcard_tickets", "mobile_id_id", "mobile_ids"),
        _fk("smartcard_tickets", "registration_id", "registrations"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_smartcard_tickets")),
        sa.UniqueConstraint("token_sha256", name=op.f("uq_smartcard_tickets_token_sha256")),
    )
    op.create_index(
        op.f("ix_smartcard_tickets_person_id"), "smartcard_tickets", ["person_id"], unique=False
    )
    op.create_table(
        "smartcards",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("person_id", sa.String(36), nullable=False),
        sa.Column("mobile_id_id", sa.String(36), nullable=False),
        sa.Column("registration_id", sa.String(36), nullable=False),
        sa.Column("ticket_id", sa.String(36), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("revoked_at", UtcDateTime(), nullable=True),
        sa.Column("revocation_reason", sa.String(32), nullable=True),
        sa.CheckConstraint(
            "state IN ('issuing', 'active', 'revoked', 'superseded')",
            name=op.f("ck_smartcards_state"),
        ),
        _fk("smartcards", "person_id", "persons"),
        _fk("smartcards", "mobile_id_id", "mobile_ids"),
        _fk("smartcards", "registration_id", "registrations"),
        _fk("smartcards", "ticket_id", "smartcard_tickets"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_smartcards")),
        sa.UniqueConstraint("ticket_id", name=op.f("uq_smartcards_ticket_id")),
    )
    op.create_index(op.f("ix_smartcards_person_id"), "smartcards", ["person_id"], unique=False)
    op.create_table(
        "smartcard_certificates",
        sa.Column("card_id", sa.String(36), nullable=False),
        sa.Column("slot", sa.String(16), nullable=False),
        sa.Column("certificate_id", sa.String(36), nullable=False),
        sa.CheckConstraint(
            "slot IN ('authentication', 'non-repudiation', 'encryption')",
            name=op.f("ck_smartcard_certificates_slot"),
        ),
        _fk("smartcard_certificates", "card_id", "smartcards"),
        _fk("smartcard_certificates", "certificate_id", "certificates"),
        sa.PrimaryKeyConstraint("card_id", "slot", name=op.f("pk_smartcard_certificates")),
        sa.UniqueConstraint(
            "certificate_id", name=op.f("uq_smartcard_certificates_certificate_id")
        ),
    )


def downgrade() -> None:
    """Drop them again."""
    op.drop_table("smartcard_certificates")
    op.drop_index(op.f("ix_smartcards_person_id"), table_name="smartcards")
    op.drop_table("smartcards")
    op.drop_index(op.f("ix_smartcard_tickets_person_id"), table_name="smartcard_tickets")
    op.drop_table("smartcard_tickets")
