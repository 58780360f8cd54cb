"""Migrations apply on both back ends; check_schema refuses anything but head."""

from __future__ import annotations

import gc
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from issuer.store import (
    SchemaOutOfDateError,
    check_schema,
    current_revision,
    head_revision,
    upgrade,
)
from issuer.store.migrate import run_migrations
from issuer.store.repo import CertificateRecord, reserve_serial, store_certificate
from issuer.store.schema import certificates, metadata, mobile_ids, registrations
from tests.store.dbfixtures import Database


def test_upgrade_reaches_head_and_check_passes(engine: sa.Engine) -> None:
    assert current_revision(engine) is None
    assert upgrade(engine) == head_revision()
    check_schema(engine)
    with engine.connect() as conn:
        head = conn.execute(sa.text("SELECT id, seq, hash FROM audit_head")).all()
    assert head == [(1, 0, "0" * 64)]


def test_upgrade_twice_changes_nothing(migrated: sa.Engine) -> None:
    assert upgrade(migrated) == head_revision()
    check_schema(migrated)


def test_migrations_match_the_table_definitions(migrated: sa.Engine) -> None:
    """schema.py and the migrations must describe the same tables (no drift)."""
    with migrated.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(ctx, metadata) == []


def test_reading_the_revision_again_and_again_keeps_nothing(migrated: sa.Engine) -> None:
    """``zorgid serve`` reads it once a second (health) and the OCSP front at each
    ``/readyz``: through Alembic each read made a table object of its own, which the
    engine's compiled-statement cache then kept (the soak's memory growth)."""

    def tables() -> int:
        gc.collect()
        return sum(isinstance(o, sa.Table) for o in gc.get_objects())

    assert current_revision(migrated) == head_revision()
    before = tables()
    for _ in range(50):
        assert current_revision(migrated) == head_revision()
    assert tables() == before


def test_check_schema_refuses_an_empty_database(engine: sa.Engine) -> None:
    with pytest.raises(SchemaOutOfDateError) as info:
        check_schema(engine)
    message = str(info.value)
    assert "run `zorgid db upgrade --config FILE`" in message
    assert "none (empty database)" in message
    assert head_revision() in message


def test_check_schema_refuses_an_older_schema(engine: sa.Engine) -> None:
    upgrade(engine, "0001")
    with pytest.raises(SchemaOutOfDateError, match="zorgid db upgrade --config FILE") as info:
        check_schema(engine)
    assert info.value.found == "0001"
    upgrade(engine)
    check_schema(engine)
    run_migrations(engine, lambda cfg: command.downgrade(cfg, "base"))
    with pytest.raises(SchemaOutOfDateError, match="none"):
        check_schema(engine)


def test_upgrading_a_populated_database_keeps_rows_and_links(engine: sa.Engine) -> None:
    """0002 rebuilds referenced tables on SQLite: foreign keys must survive, rows too."""
    upgrade(engine, "0001")
    now = datetime(2026, 11, 28, tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(
            registrations.insert().values(
                id="r1",
                kind="registration",
                state="redeemed",
                portal_identity="p",
                created_at=now,
                updated_at=now,
            )
        )
        reserve_serial(
            conn, issuer="a" * 64, serial="1f", request_sha256="b" * 64, policy_version=1, now=now
        )
        store_certificate(
            conn,
            CertificateRecord(
                issuer="a" * 64,
                serial="1f",
                der=b"der",
                not_before=now,
                not_after=now,
                policy_version=1,
                spki_sha256="c" * 64,
                registration_id="r1",
            ),
            now=now,
        )
    upgrade(engine)
    with engine.connect() as conn:
        linked = conn.execute(sa.select(certificates.c.registration_id)).scalar_one()
    assert linked == "r1"
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
        conn.execute(registrations.delete())  # still referenced: foreign keys are on again
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
        conn.execute(
            registrations.insert().values(
                id="r2",
                kind="registration",
                state="half-done",
                portal_identity="p",
                created_at=now,
                updated_at=now,
            )
        )


def test_check_schema_refuses_an_unknown_newer_revision(engine: sa.Engine) -> None:
    migrated = engine
    upgrade(migrated)
    with migrated.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = 'ffff_from_the_future'"))
    with pytest.raises(SchemaOutOfDateError) as info:
        check_schema(migrated)
    assert info.value.found == "ffff_from_the_future"
    assert info.value.expected == head_revision()


def test_backend_settings(migrated: sa.Engine, migrated_db: Database) -> None:
    """SQLite: foreign keys, WAL, busy timeout. PostgreSQL: the per-run schema is used."""
    if migrated_db.pg_schema is not None:
        with migrated.connect() as conn:
            assert conn.exec_driver_sql("SHOW search_path").scalar() == migrated_db.pg_schema
            tables = conn.execute(
                sa.text("SELECT count(*) FROM pg_tables WHERE schemaname = :s"),
                {"s": migrated_db.pg_schema},
            ).scalar()
        assert tables == len(metadata.tables) + 1  # + alembic_version
        return
    with migrated.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000


def test_foreign_keys_are_enforced(migrated: sa.Engine) -> None:
    now = datetime.now(UTC)
    with pytest.raises(sa.exc.IntegrityError), migrated.begin() as conn:
        conn.execute(
            mobile_ids.insert().values(
                id="m1", person_id="nobody", spki_sha256="a" * 64, public_key=b"x", created_at=now
            )
        )


def _card_certificate(not_after: datetime, *, serial: int = 7, issuer: str = "card") -> bytes:
    """A self-signed stand-in for a UZI-pas certificate: its notAfter, serial and issuer."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(not_after.replace(year=not_after.year - 3))
        .not_valid_after(not_after)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.DER)


def test_0007_fills_card_not_after_from_the_stored_card(engine: sa.Engine) -> None:
    """Rows with a stored card certificate get its notAfter; the others stay NULL (policy)."""
    upgrade(engine, "0006")
    now = datetime(2026, 11, 28, tzinfo=UTC)
    card_end = datetime(2027, 1, 2, 3, 4, 5, tzinfo=UTC)
    with engine.begin() as conn:
        for rid, der in (("with-card", _card_certificate(card_end)), ("no-card", None)):
            conn.execute(
                registrations.insert().values(
                    id=rid,
                    kind="registration",
                    state="confirmed",
                    portal_identity="p",
                    card_certificate=der,
                    created_at=now,
                    updated_at=now,
                )
            )
    upgrade(engine)
    with engine.connect() as conn:
        found = dict(
            conn.execute(sa.select(registrations.c.id, registrations.c.card_not_after)).all()
        )
    assert found == {"with-card": card_end, "no-card": None}


def test_0008_names_the_card_of_existing_proofs(engine: sa.Engine) -> None:
    """Proofs stored before 0008 get their card's serial and issuer, as a CRL names them."""
    import hashlib

    from cryptography import x509
    from cryptography.x509.oid import NameOID

    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "TEST UZI CA")])
    now = datetime(2026, 11, 28, tzinfo=UTC)
    card = _card_certificate(now, serial=0xABC123, issuer="TEST UZI CA")
    upgrade(engine, "0006")
    with engine.begin() as conn:
        for rid, der in (("r1", card), ("r2", None)):
            conn.execute(
                registrations.insert().values(
                    id=rid,
                    kind="registration",
                    state="confirmed",
                    portal_identity="p",
                    card_certificate=der,
                    created_at=now,
                    updated_at=now,
                )
            )
    upgrade(engine)
    with engine.connect() as conn:
        rows = dict(
            (r.id, (r.card_serial, r.card_issuer_sha256))
            for r in conn.execute(
                sa.select(
                    registrations.c.id,
                    registrations.c.card_serial,
                    registrations.c.card_issuer_sha256,
                )
            )
        )
    assert rows == {
        "r1": ("abc123", hashlib.sha256(name.public_bytes()).hexdigest()),
        "r2": (None, None),
    }


def test_0009_adds_who_placed_a_hold_and_downgrades(engine: sa.Engine) -> None:
    """Certificates stored before 0009 were held by no one; the downgrade keeps them."""
    upgrade(engine, "0008")
    now = datetime(2026, 11, 28, tzinfo=UTC)
    with engine.begin() as conn:
        reserve_serial(
            conn, issuer="a" * 64, serial="2f", request_sha256="b" * 64, policy_version=1, now=now
        )
        store_certificate(
            conn,
            CertificateRecord(
                issuer="a" * 64,
                serial="2f",
                der=b"der",
                not_before=now,
                not_after=now,
                policy_version=1,
                spki_sha256="c" * 64,
            ),
            now=now,
        )
    upgrade(engine)
    with engine.connect() as conn:
        assert conn.execute(sa.select(certificates.c.serial, certificates.c.held_by)).all() == [
            ("2f", None)
        ]
    run_migrations(engine, lambda cfg: command.downgrade(cfg, "0008"))
    with engine.connect() as conn:
        columns = {c["name"] for c in sa.inspect(conn).get_columns("certificates")}
        assert "held_by" not in columns
        assert conn.execute(sa.text("SELECT serial FROM certificates")).scalars().all() == ["2f"]
    upgrade(engine)
