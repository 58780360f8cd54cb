"""The date of birth a user types in the portal: ``dd-mm-jjjj`` (Dutch) or ISO ``yyyy-mm-dd``.

Only real calendar dates (``31-02-1980`` is refused) and a plausible age for a
working healthcare professional: 16 to 100 years on the day of entry.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Final

from issuer.errors import Code, ZorgIdError

MIN_AGE: Final = 16
MAX_AGE: Final = 100
_DUTCH: Final = re.compile(r"^(\d{2})-(\d{2})-(\d{4})$")
_ISO: Final = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")


def age_on(born: date, today: date) -> int:
    """Whole years from *born* to *today* (a birthday on 29 February counts on 1 March)."""
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def parse_birth_date(text: str, *, today: date) -> date:
    """The date in *text*; ZID-1603 if not a real date in either form, ZID-1604 if implausible."""
    value = text.strip()
    dutch, iso = _DUTCH.match(value), _ISO.match(value)
    if dutch:
        day, month, year = (int(g) for g in dutch.groups())
    elif iso:
        year, month, day = (int(g) for g in iso.groups())
    else:
        raise ZorgIdError(
            Code.ZID_1603, f"got {value[:32]!r}; expected dd-mm-jjjj (31-12-1980) or yyyy-mm-dd"
        )
    try:
        born = date(year, month, day)
    except ValueError:
        raise ZorgIdError(Code.ZID_1603, f"got {value!r}, which is not a calendar date") from None
    age = age_on(born, today)
    if not MIN_AGE <= age <= MAX_AGE:
        raise ZorgIdError(
            Code.ZID_1604,
            f"got {born.isoformat()}: age {age} on {today.isoformat()}; "
            f"expected {MIN_AGE} to {MAX_AGE}",
        )
    return born
