"""Prepared statements on the DB-API cursor behave as ``conn.execute`` would, on both back ends."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from issuer.store.prepared import Prepared
from issuer.store.schema import serial_reservations
from issuer.store.types import UtcDateTime

INSERT = Prepared(
    serial_reservations.insert(),
    keys=("issuer", "serial", "request_sha256", "policy_version", "state", "created_at"),
)
FINISH = Prepared(
    serial_reservations.update()
    .where(
        serial_reservations.c.serial == sa.bindparam("b_serial"),
        serial_reservations.c.state == "reserved",
    )
    .values(state="issued", finished_at=sa.bindparam("b_at", type_=UtcDateTime))
)
SELECT = Prepared(
    sa.select(serial_reservations.c.state, serial_reservations.c.serial).where(
        serial_reservations.c.serial == sa.bindparam("s")
    )
)
AT = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)


def _row(serial: str) -> dict[str, object]:
    return {
        "issuer": "ab" * 32,
        "serial": serial,
        "request_sha256": "cd" * 32,
        "policy_version": 1,
        "state": "reserved",
        "created_at": AT,
    }


def test_binds_types_and_literals_like_sqlalchemy(migrated: sa.Engine) -> None:
    with migrated.begin() as conn:
        INSERT.execute(conn, _row("1a"))
        assert FINISH.execute(conn, {"b_serial": "1a", "b_at": AT}).rowcount == 1
        # The literal ``state = 'reserved'`` is part of the statement: no second change.
        assert FINISH.execute(conn, {"b_serial": "1a", "b_at": AT}).rowcount == 0
        assert SELECT.execute(conn, {"s": "1a"}).fetchone() == ("issued", "1a")
        assert SELECT.execute(conn, {"s": "ff"}).fetchone() is None
    with migrated.connect() as conn:
        row = conn.execute(sa.select(serial_reservations)).one()
    # UtcDateTime's bind processor ran: the value reads back through SQLAlchemy exactly.
    assert row.created_at == AT and row.finished_at == AT


def test_errors_are_sqlalchemys_and_leave_the_transaction_usable_for_rollback(
    migrated: sa.Engine,
) -> None:
    with migrated.begin() as conn:
        INSERT.execute(conn, _row("2b"))
        with pytest.raises(sa.exc.IntegrityError), conn.begin_nested():
            INSERT.execute(conn, _row("2b"))
        INSERT.execute(conn, _row("2c"))
    with migrated.connect() as conn:
        count = conn.execute(sa.select(sa.func.count()).select_from(serial_reservations))
        assert count.scalar() == 2


def test_a_missing_parameter_is_refused_not_written_as_null(migrated: sa.Engine) -> None:
    row = _row("3c")
    del row["request_sha256"]
    with migrated.begin() as conn, pytest.raises(KeyError):
        INSERT.execute(conn, row)


def test_runs_inside_the_callers_transaction_even_as_its_first_statement(
    migrated: sa.Engine,
) -> None:
    with migrated.connect() as conn:
        INSERT.execute(conn, _row("4d"))  # no begin yet: it begins, as conn.execute would
        assert conn.in_transaction()
        conn.rollback()
    with migrated.connect() as conn:
        count = conn.execute(sa.select(sa.func.count()).select_from(serial_reservations))
        assert count.scalar() == 0
