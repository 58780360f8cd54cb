"""The UZI vocabulary: the register's numbers and codes, its card types and the SAN string.

Defined once because two sides speak it: :mod:`issuer.uzi` reads it off a
UZI-pas, :mod:`issuer.profile` writes it into a mobile-ID certificate and
reads it back. This module imports neither, so imports stay one way.

Facts from ``docs/uzi-profile.md`` (UZI-register CPS v10.2): the identity is
the ``otherName`` ``2.5.5.5`` in the subjectAltName (RFC 5280 section
4.2.1.6), one ``IA5String`` of seven dash-separated fields
``<CA OID>-1-<UZI nr>-<card type>-<URA>-<role>-<AGB>``.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import Final, NewType

from asn1crypto import core as asn1_core
from cryptography import x509

UziNumber = NewType("UziNumber", str)
"""Nine digits, one series for all card types: the person's (Z, N) or the card's (M, S)."""
Ura = NewType("Ura", str)
"""Eight digits: the subscriber (organisation) number, URA."""
RoleCode = NewType("RoleCode", str)
"""``NN.NNN``: profession and specialism (RoleCodeNL)."""
AgbCode = NewType("AgbCode", str)
"""Eight digits; ``00000000`` when none."""
CaOid = NewType("CaOid", str)
"""Dotted OID of the issuing CA as written in the UZI otherName."""

UZI_NUMBER_RE: Final = re.compile(r"^[0-9]{9}$")
URA_RE: Final = re.compile(r"^[0-9]{8}$")
ROLE_RE: Final = re.compile(r"^[0-9]{2}\.[0-9]{3}$")
AGB_RE: Final = re.compile(r"^[0-9]{8}$")

UZI_OTHER_NAME_OID: Final = x509.ObjectIdentifier("2.5.5.5")
"""The otherName type-id of the UZI SAN string (UZI-register CPS)."""


class CardType(enum.StrEnum):
    """The four card types of the UZI-register."""

    ZORGVERLENER = "Z"
    MEDEWERKER_OP_NAAM = "N"
    MEDEWERKER_NIET_OP_NAAM = "M"
    SERVER = "S"


NAMED_CARD_TYPES: Final = frozenset({CardType.ZORGVERLENER, CardType.MEDEWERKER_OP_NAAM})
"""Cards issued to a named person: the only ones a mobile ID is issued for."""


class UziNameError(ValueError):
    """A UZI SAN string, or the otherName holding it, that breaks the grammar.

    Carries the detail only; each reader (card, profile) wraps it in its own
    refusal, so the grammar needs neither of their error types.
    """


@dataclass(frozen=True, kw_only=True)
class UziName:
    """The fields of the UZI SAN string, each checked against its form."""

    ca_oid: CaOid
    uzi_number: UziNumber
    card_type: CardType
    subscriber_number: Ura
    role: RoleCode
    agb_code: AgbCode


# The layout only; the field rules (digit counts, version, card type, role per
# card type) are checked one by one in parse_uzi_name so a refusal names the field.
_UZI_NAME: Final = re.compile(
    r"(?P<ca>[0-2](?:\.(?:0|[1-9][0-9]*))+)-(?P<version>[0-9]+)-(?P<uzi>[0-9]+)-(?P<type>[A-Z])"
    r"-(?P<ura>[0-9]+)-(?P<role>[0-9]{2}\.[0-9]{3})-(?P<agb>[0-9]+)",
    re.ASCII,
)


_CARD_LETTERS: Final = frozenset(t.value for t in CardType)


def _checked_layout(text: str) -> re.Match[str]:
    """The layout match of *text*; :class:`UziNameError` naming every broken field."""
    match = _UZI_NAME.fullmatch(text)
    if match is None:
        raise UziNameError(
            f"got {text!r}; expected <CA OID>-1-<9 digits>-<Z|N|M|S>-<8 digits>-<NN.NNN>-<8 digits>"
        )
    problems: list[str] = []
    if match["version"] != "1":
        problems.append(f"version {match['version']!r}, expected '1'")
    if len(match["uzi"]) != 9:
        problems.append(f"UZI number {match['uzi']!r}, expected 9 digits")
    if match["type"] not in _CARD_LETTERS:
        problems.append(f"card type {match['type']!r}, expected Z, N, M or S")
    if len(match["ura"]) != 8:
        problems.append(f"subscriber number {match['ura']!r}, expected 8 digits")
    if len(match["agb"]) != 8:
        problems.append(f"AGB code {match['agb']!r}, expected 8 digits")
    role = match["role"]
    if not problems:
        if match["type"] == CardType.ZORGVERLENER and role.startswith("00."):
            problems.append(f"role {role!r} on a Z card, expected a profession other than 00")
        if match["type"] != CardType.ZORGVERLENER and role != "00.000":
            problems.append(f"role {role!r} on a {match['type']} card, expected '00.000'")
    if problems:
        raise UziNameError(f"in {text!r}: " + "; ".join(problems))
    return match


def parse_uzi_name(text: str) -> UziName:
    """Check the seven fields of the UZI SAN string (profile: "The UZI otherName")."""
    match = _checked_layout(text)
    return UziName(
        ca_oid=CaOid(match["ca"]),
        uzi_number=UziNumber(match["uzi"]),
        card_type=CardType(match["type"]),
        subscriber_number=Ura(match["ura"]),
        role=RoleCode(match["role"]),
        agb_code=AgbCode(match["agb"]),
    )


def is_issuable_uzi_name(text: str) -> bool:
    """Whether *text* is a well-formed UZI SAN string of a named-person card (Z or N).

    The mobile-ID profile writes only these; the per-certificate lint holds
    each issued SAN string to it (so it returns a bool, building no UziName).
    """
    try:
        match = _checked_layout(text)
    except UziNameError:
        return False
    return match["type"] in NAMED_CARD_TYPES


def format_uzi_name(
    *,
    ca_oid: str,
    uzi_number: UziNumber,
    card_type: str,
    subscriber_number: Ura,
    role: RoleCode,
    agb_code: AgbCode,
) -> str:
    """The UZI SAN string ``<CA OID>-1-<UZI nr>-<type>-<URA>-<role>-<AGB>``."""
    return f"{ca_oid}-1-{uzi_number}-{card_type}-{subscriber_number}-{role}-{agb_code}"


def read_uzi_other_name(cert: x509.Certificate) -> str:
    """The text of the single ``2.5.5.5`` otherName, decoded as ASN.1, never by slicing bytes."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        raise UziNameError("no subjectAltName extension; expected otherName 2.5.5.5") from None
    except (x509.DuplicateExtension, ValueError):
        raise UziNameError("no readable subjectAltName; expected one otherName 2.5.5.5") from None
    values = [
        n.value for n in san.get_values_for_type(x509.OtherName) if n.type_id == UZI_OTHER_NAME_OID
    ]
    if len(values) != 1:
        raise UziNameError(f"found {len(values)} otherName 2.5.5.5 entries; expected exactly one")
    try:
        # cryptography hands the value's full TLV (inside the [0] EXPLICIT wrapper).
        decoded = asn1_core.IA5String.load(values[0], strict=True)
        text = decoded.native
    except (ValueError, TypeError) as exc:
        raise UziNameError(f"otherName 2.5.5.5 is not a DER IA5String ({exc})") from None
    if not isinstance(text, str):
        raise UziNameError("otherName 2.5.5.5 holds no string")
    return text
