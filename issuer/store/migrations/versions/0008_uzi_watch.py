"""The UZI-pas watch (issue 18 item 2): the card of each proof by issuer and serial, CRL state.

A CRL names a revoked certificate by its issuer and serial (RFC 5280
§5.1.2.3, §5.1.2.6). ``registrations`` kept the whole card certificate (DER)
but not those two, so finding the registrations of a revoked card meant
parsing every proof. They are added, indexed, and filled here from the
stored certificate for rows that have one. ``uzi_watch_crls`` keeps the
watch's state per CRL distribution point, shared by every process.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 01:00:00

"""

import hashlib
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from cryptography import x509

from issuer.store.types import UtcDateTime

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _card_key(der: bytes) -> tuple[str, str] | None:
    """(serial hex, SHA-256 of the issuer Name DER) of a stored card certificate, or None."""
    try:
        cert = x509.load_der_x509_certificate(der)
    except ValueError:
        return None
    if cert.serial_number <= 0:
        return None
    return format(cert.serial_number, "x"), hashlib.sha256(cert.issuer.public_bytes()).hexdigest()


def upgrade() -> None:
    """Add and fill ``registrations.card_serial``/``card_issuer_sha256``; ``uzi_watch_crls``."""
    with op.batch_alter_table("registrations") as batch:
        batch.add_column(
            sa.Column(
                "card_serial",
                sa.String(length=40),
                nullable=True,
                comment="of card_certificate (0008)",
            )
        )
        batch.add_column(
            sa.Column(
                "card_issuer_sha256",
                sa.String(length=64),
                nullable=True,
                comment="SHA-256 of its issuer Name DER",
            )
        )
        batch.create_index(
            "ix_registrations_card_issuer_sha256", ["card_issuer_sha256", "card_serial"]
        )
    table = sa.table(
        "registrations",
        sa.column("id", sa.String),
        sa.column("card_certificate", sa.LargeBinary),
        sa.column("card_serial", sa.String),
        sa.column("card_issuer_sha256", sa.String),
    )
    conn = op.get_bind()
    rows = conn.execute(
        sa.select(table.c.id, table.c.card_certificate).where(table.c.card_certificate.is_not(None))
    ).all()
    for row in rows:
        key = _card_key(bytes(row.card_certificate))
        if key is None:
            continue
        conn.execute(
            table.update()
            .where(table.c.id == row.id)
            .values(card_serial=key[0], card_issuer_sha256=key[1])
        )
    op.create_table(
        "uzi_watch_crls",
        sa.Column("url", sa.String(length=512), nullable=False, comment="CRL distribution point"),
        sa.Column(
            "issuer_sha256",
            sa.String(length=64),
            nullable=True,
            comment="SHA-256 of the CRL issuer",
        ),
        sa.Column("crl_number", sa.BigInteger(), nullable=True),
        sa.Column("crl_sha256", sa.String(length=64), nullable=True),
        sa.Column("this_update", UtcDateTime(), nullable=True),
        sa.Column("next_update", UtcDateTime(), nullable=True),
        sa.Column("first_watched_at", UtcDateTime(), nullable=False),
        sa.Column("last_fetch_at", UtcDateTime(), nullable=True),
        sa.Column("last_success_at", UtcDateTime(), nullable=True),
        sa.Column("next_fetch_at", UtcDateTime(), nullable=True),
        sa.Column("last_error", sa.String(length=512), nullable=True),
        sa.Column("reported_at", UtcDateTime(), nullable=True, comment="unavailable too long"),
        sa.Column("revocations", sa.Integer(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("url", name=op.f("pk_uzi_watch_crls")),
    )


def downgrade() -> None:
    """Drop ``uzi_watch_crls`` and the two columns."""
    op.drop_table("uzi_watch_crls")
    with op.batch_alter_table("registrations") as batch:
        batch.drop_index("ix_registrations_card_issuer_sha256")
        batch.drop_column("card_issuer_sha256")
        batch.drop_column("card_serial")
