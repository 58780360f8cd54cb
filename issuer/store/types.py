"""Column types that behave the same on SQLite and PostgreSQL.

Why not ``DateTime(timezone=True)``: SQLite has no timestamp type and drops the
offset, and PostgreSQL ``timestamptz`` comes back in the *session* time zone.
Several engine processes on several machines share one database, so a value
must read back exactly as written whatever the server or session settings.
We therefore store UTC instants as fixed-width ISO 8601 text
(``YYYY-MM-DDTHH:MM:SS.ffffffZ``, 27 characters): identical on both back ends,
and because every value has the same width and zone, text order is time order,
so ``expires_at > :now`` comparisons and indexes stay correct in SQL.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

UTC_TEXT_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
"""The stored form: microseconds and a literal ``Z``, always 27 characters."""


def to_utc_text(value: datetime) -> str:
    """Render an aware datetime as the stored UTC text; naive values are refused.

    A naive datetime has no defined instant (is it local time? UTC?); guessing
    would silently shift QR lifetimes and certificate validity by hours.
    """
    if value.tzinfo is None or value.utcoffset() is None:
        raise TypeError(
            f"got a naive datetime {value.isoformat()!r}; expected a timezone-aware "
            "datetime: pass datetime.now(UTC) or attach tzinfo=UTC"
        )
    utc = value.astimezone(UTC)
    # Not strftime: glibc's %Y does not zero-pad years below 1000, which would
    # break the fixed width that makes text order equal time order.
    return (
        f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}T"
        f"{utc.hour:02d}:{utc.minute:02d}:{utc.second:02d}.{utc.microsecond:06d}Z"
    )


def from_utc_text(text: str) -> datetime:
    """Parse the stored UTC text back into an aware UTC datetime.

    Every timestamp column read goes through here (several per issuance), and
    ``strptime`` costs ~20x ``fromisoformat``. ``fromisoformat`` is more lenient
    (a comma before the fraction, offsets, shorter forms), so it only takes text
    already shaped as the stored form -- ASCII, 27 characters, the separators in
    place, a literal ``Z`` (which it reads as UTC) -- where both parse the same;
    anything else goes to ``strptime`` with the exact format, which refuses it.
    """
    if (
        len(text) == 27
        and text.isascii()
        and text[26] == "Z"
        and text[19] == "."
        and text[10] == "T"
        and text[4] == text[7] == "-"
        and text[13] == text[16] == ":"
    ):
        return datetime.fromisoformat(text)
    return datetime.strptime(text, UTC_TEXT_FORMAT).replace(tzinfo=UTC)


class UtcDateTime(sa.types.TypeDecorator[datetime]):
    """An aware UTC ``datetime`` stored as fixed-width ISO 8601 text (see module doc)."""

    impl = sa.String(27)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(
                f"got {type(value).__name__} {value!r} for a UTC timestamp column; "
                "expected a timezone-aware datetime"
            )
        return to_utc_text(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return from_utc_text(str(value))
