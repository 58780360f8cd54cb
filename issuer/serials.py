"""Certificate serial numbers as an operator reads and types them (docs/cli.md, "Serials").

Printed as ``openssl x509 -noout -serial`` prints them (uppercase hexadecimal,
an even number of digits, so a leading zero is kept: ``0A1B``), so a serial
copied from the CLI finds the same certificate in openssl's output and back.
Accepted in every common hexadecimal form: that one, lowercase, with ``0x``,
with ``serial=`` (openssl's line pasted whole), colon- or space-separated
octets (``0a:1b``, ``0A 1B``). A string of digits only is hexadecimal too,
because a serial written by a tool almost always is; a decimal serial must say
so with ``dec:`` -- guessing would find a different certificate.
The database keys a serial by :func:`store_form` (lowercase, no leading zeros).
"""

from __future__ import annotations

import re

from issuer.errors import Code, ZorgIdError

MAX_OCTETS = 20
"""RFC 5280 §4.1.2.2: a serial is at most 20 octets."""

ACCEPTED_FORMS = (
    "hexadecimal as openssl prints it (0A1B2C), any case, with 0x or serial=, "
    "colon- or space-separated octets (0A:1B:2C, 0a 1b 2c), or decimal as dec:NNN"
)
"""What :func:`parse_serial` takes, named in its error message and in the CLI's help."""

_HEX = re.compile(r"[0-9a-f]+")
_OCTETS = re.compile(r"[0-9a-f]{1,2}([: ][0-9a-f]{1,2})+")


def format_serial(serial: int) -> str:
    """*serial* as ``openssl x509 -serial`` prints it: uppercase hex, even number of digits."""
    digits = format(serial, "X")
    return digits if len(digits) % 2 == 0 else "0" + digits


def store_form(serial: int) -> str:
    """The database's key of *serial* (``certificates.serial``): lowercase hex, no leading zero."""
    return format(serial, "x")


def parse_serial(text: str) -> int:
    """The serial number *text* names, in any form of :data:`ACCEPTED_FORMS`.

    Anything else -- a sign, a hex digit in a decimal, zero, more than 20
    octets -- is ZID-0005 (the CLI's usage error), naming the forms accepted.
    """
    value = _parse(text.strip().lower())
    if value is None or value <= 0 or (value.bit_length() + 7) // 8 > MAX_OCTETS:
        raise ZorgIdError(
            Code.ZID_0005,
            f"serial {text[:64]!r} is not a serial number: expected a positive number of at "
            f"most {MAX_OCTETS} octets, {ACCEPTED_FORMS}",
        )
    return value


def _parse(text: str) -> int | None:
    if text.startswith("dec:"):
        digits = text[4:].strip()
        return int(digits) if digits.isascii() and digits.isdigit() else None
    for prefix in ("serial=", "0x"):
        text = text.removeprefix(prefix)
    if _OCTETS.fullmatch(text):
        text = re.sub(r"[: ]", "", text)
    return int(text, 16) if _HEX.fullmatch(text) else None
