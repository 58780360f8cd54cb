"""UTC timestamps read back identically on SQLite and PostgreSQL, and compare in SQL."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from issuer.store.schema import uzi_challenges
from issuer.store.types import from_utc_text, to_utc_text


def _insert(conn: sa.Connection, ident: str, expires_at: datetime) -> None:
    conn.execute(
        uzi_challenges.insert().values(
            id=ident,
            nonce=b"\x00" * 32,
            portal_identity="portal-a",
            created_at=datetime(2026, 1, 1, tzinfo=UTC),
            expires_at=expires_at,
        )
    )


def test_aware_timestamps_round_trip_exactly(migrated: sa.Engine) -> None:
    cet = timezone(timedelta(hours=2))
    written = {
        "utc-micro": datetime(2026, 11, 28, 13, 45, 1, 123456, tzinfo=UTC),
        "offset": datetime(2026, 3, 29, 3, 30, 0, 1, tzinfo=cet),
        "epoch": datetime(1970, 1, 1, tzinfo=UTC),
        "far": datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    }
    with migrated.begin() as conn:
        for ident, value in written.items():
            _insert(conn, ident, value)
    with migrated.connect() as conn:
        rows = dict(conn.execute(sa.select(uzi_challenges.c.id, uzi_challenges.c.expires_at)).all())
        raw: dict[str, str] = dict(
            conn.execute(sa.text("SELECT id, expires_at FROM uzi_challenges")).all()
        )
    for ident, value in written.items():
        back = rows[ident]
        assert back == value
        assert back.tzinfo is UTC
        assert back.utcoffset() == timedelta(0)
    assert raw["offset"] == "2026-03-29T01:30:00.000001Z"
    assert raw["utc-micro"] == "2026-11-28T13:45:01.123456Z"


def test_sql_comparison_follows_time_order(migrated: sa.Engine) -> None:
    now = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    with migrated.begin() as conn:
        _insert(conn, "past", now - timedelta(microseconds=1))
        _insert(
            conn,
            "future-offset",
            (now + timedelta(seconds=1)).astimezone(timezone(-timedelta(hours=5))),
        )
        _insert(conn, "now", now)
    with migrated.connect() as conn:
        live = (
            conn.execute(sa.select(uzi_challenges.c.id).where(uzi_challenges.c.expires_at > now))
            .scalars()
            .all()
        )
        ordered = (
            conn.execute(sa.select(uzi_challenges.c.id).order_by(uzi_challenges.c.expires_at))
            .scalars()
            .all()
        )
    assert live == ["future-offset"]
    assert ordered == ["past", "now", "future-offset"]


def test_naive_timestamps_are_refused(migrated: sa.Engine) -> None:
    with pytest.raises(sa.exc.StatementError, match="naive datetime"), migrated.begin() as conn:
        _insert(conn, "naive", datetime(2026, 1, 1, 12, 0))


def test_text_form_is_fixed_width() -> None:
    value = datetime(1, 1, 1, tzinfo=UTC)
    text = to_utc_text(value)
    assert len(text) == 27
    assert from_utc_text(text) == value


@pytest.mark.parametrize(
    "value",
    [
        datetime(1, 1, 1, tzinfo=UTC),
        datetime(999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(2026, 11, 28, 16, 23, 8, 123456, tzinfo=UTC),
        datetime(2026, 11, 28, 16, 23, 8, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    ],
)
def test_stored_text_parses_as_strptime_did(value: datetime) -> None:
    text = to_utc_text(value)
    parsed = from_utc_text(text)
    reference = datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    assert parsed == reference == value
    assert parsed.tzinfo is UTC and parsed.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-28T16:23:08,123456Z",  # fromisoformat takes a comma; the stored form never has one
        "2026-11-28T16:23:08.123456+00:00",
        "2026-11-28T16:23:08Z",
        "2026-11-28",
        "2026-11-28 16:23:08.123456Z",
        "2026-11-28T24:00:00.000000Z",
        "2026-02-30T16:23:08.123456Z",
        "",
    ],
)
def test_text_not_in_the_stored_form_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        from_utc_text(text)


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-28t16:23:08.123456z",  # strptime matches literals case-insensitively
        "\u0662026-11-28T16:23:08.123456Z",  # and takes any Unicode digit
    ],
)
def test_odd_text_strptime_took_still_parses_the_same(text: str) -> None:
    assert from_utc_text(text) == datetime(2026, 11, 28, 16, 23, 8, 123456, tzinfo=UTC)


def test_the_remembered_text_is_only_ever_the_same_objects() -> None:
    base = datetime(2026, 11, 28, 16, 40, 0, 123456, tzinfo=UTC)
    values = [base + timedelta(microseconds=n) for n in range(200)]
    values += [v.astimezone(timezone(timedelta(hours=2))) for v in values[:50]]
    expected = {id(v): f"2026-11-28T16:40:00.{v.astimezone(UTC).microsecond:06d}Z" for v in values}
    assert to_utc_text(values[0]) == to_utc_text(values[0]) == expected[id(values[0])]
    wrong: list[str] = []

    def render(order: list[datetime]) -> None:
        for _ in range(50):
            for v in order:
                if to_utc_text(v) != expected[id(v)]:
                    wrong.append(repr(v))

    threads = [threading.Thread(target=render, args=(values[i::3],)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wrong == []
    to_utc_text(base)
    with pytest.raises(TypeError, match="naive"):
        to_utc_text(base.replace(tzinfo=None))
