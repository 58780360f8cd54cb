"""The verified UZI attributes a mobile-ID certificate carries.

The UZI reader produces a :class:`VerifiedAttributes` after it has verified a
UZI-pas proof; the profile builder copies these values, and nothing else about
the person, into the certificate. Formats follow ``docs/uzi-profile.md``
(UZI-register CPS): fixed digit counts, role ``NN.NNN``, card type Z or N;
the types and forms come from :mod:`issuer.uzi_vocabulary`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from issuer.uzi_vocabulary import (
    AGB_RE,
    NAMED_CARD_TYPES,
    ROLE_RE,
    URA_RE,
    UZI_NUMBER_RE,
    AgbCode,
    CardType,
    RoleCode,
    Ura,
    UziNumber,
    format_uzi_name,
)

# RFC 5280 Appendix A.1 upper bounds (ub-common-name, ub-organization-name,
# ub-title); X520name (surname, givenName) allows ub-name = 32768, but a UZI
# card's CN (<= 64) is given names + surname, so the profile bounds them at 64.
MAX_COMMON_NAME = 64
MAX_ORGANIZATION = 64
MAX_TITLE = 64
MAX_GIVEN_NAME = 64
MAX_SURNAME = 64


class InvalidAttributesError(ValueError):
    """Verified attributes that the profile cannot carry as they are."""

    def __init__(self, field: str, got: str, expected: str) -> None:
        self.field = field
        super().__init__(
            f"UZI attribute {field!r}: got {got}; expected {expected}. "
            "The UZI reader must hand over the card's values unchanged; "
            "correct the person's data (operator) if the card data is wrong."
        )


_CONTROL_CHARACTERS = re.compile("[\x00-\x1f\x7f-\x9f]")


def has_control_characters(value: str) -> bool:
    """Whether *value* holds a C0 or C1 control character (U+0000-U+001F, U+007F-U+009F).

    Names carry none (the card prints none; RFC 5280 App. A.1 strings are
    text). One compiled character class, not a loop over ``ord()``: this runs
    on every name attribute of every certificate, in step 1 and in the lint.
    """
    return _CONTROL_CHARACTERS.search(value) is not None


def _check_text(field: str, value: str, limit: int) -> None:
    if not value or value != value.strip():
        raise InvalidAttributesError(field, repr(value), "a non-empty value without outer spaces")
    if len(value) > limit:
        raise InvalidAttributesError(field, f"{len(value)} characters", f"at most {limit}")
    if has_control_characters(value):
        raise InvalidAttributesError(field, repr(value), "no control characters")


@dataclass(frozen=True, kw_only=True)
class VerifiedAttributes:
    """What a verified UZI-pas (Z or N) says about its holder."""

    uzi_number: UziNumber
    card_type: CardType
    subscriber_number: Ura
    role: RoleCode
    agb_code: AgbCode
    given_name: str
    surname: str
    common_name: str
    title: str | None
    organization: str

    def __post_init__(self) -> None:
        if not UZI_NUMBER_RE.match(self.uzi_number):
            raise InvalidAttributesError("uzi_number", repr(self.uzi_number), "9 digits")
        if self.card_type not in NAMED_CARD_TYPES:
            raise InvalidAttributesError(
                "card_type", repr(self.card_type), "Z or N (cards issued to a named person)"
            )
        if not URA_RE.match(self.subscriber_number):
            raise InvalidAttributesError(
                "subscriber_number", repr(self.subscriber_number), "8 digits (URA)"
            )
        if not ROLE_RE.match(self.role):
            raise InvalidAttributesError("role", repr(self.role), "NN.NNN")
        if self.card_type == "Z" and self.role.startswith("00."):
            raise InvalidAttributesError(
                "role", repr(self.role), "a profession code other than 00 on a Z card"
            )
        if self.card_type == "N" and self.role != "00.000":
            raise InvalidAttributesError("role", repr(self.role), "00.000 on an N card")
        if not AGB_RE.match(self.agb_code):
            raise InvalidAttributesError("agb_code", repr(self.agb_code), "8 digits")
        _check_text("given_name", self.given_name, MAX_GIVEN_NAME)
        _check_text("surname", self.surname, MAX_SURNAME)
        _check_text("common_name", self.common_name, MAX_COMMON_NAME)
        if len(self.common_name.encode("utf-8")) > MAX_COMMON_NAME:
            # cryptography counts ub-common-name in UTF-8 octets, not characters
            # (RFC 5280 counts characters); refuse here, with a clear message,
            # rather than fail inside the builder.
            raise InvalidAttributesError(
                "common_name",
                f"{len(self.common_name.encode('utf-8'))} UTF-8 octets",
                f"at most {MAX_COMMON_NAME} octets (diacritics take two or more)",
            )
        _check_text("organization", self.organization, MAX_ORGANIZATION)
        if self.title is not None:
            _check_text("title", self.title, MAX_TITLE)
            if self.card_type != "Z":
                raise InvalidAttributesError("title", repr(self.title), "no title on an N card")

    def san_string(self, ca_oid: str) -> str:
        """The UZI SAN string ``<CA OID>-1-<UZI nr>-<type>-<URA>-<role>-<AGB>``."""
        return format_uzi_name(
            ca_oid=ca_oid,
            uzi_number=self.uzi_number,
            card_type=self.card_type,
            subscriber_number=self.subscriber_number,
            role=self.role,
            agb_code=self.agb_code,
        )


def sample_attributes() -> VerifiedAttributes:
    """A valid Z-card holder for a profile's sample certificate.

    Why one definition: the TBS template (issuer/profile/der.py) and the fast
    lint's profile shape (issuer/lint/cert.py) both read a profile's constant
    fields off a sample; the sample's own subject, SAN and key are ignored by
    both, so they must only be valid, and the same.
    """
    return VerifiedAttributes(
        uzi_number=UziNumber("900000001"),
        card_type=CardType.ZORGVERLENER,
        subscriber_number=Ura("90000001"),
        role=RoleCode("01.015"),
        agb_code=AgbCode("00000000"),
        given_name="Sample",
        surname="Sample",
        common_name="Sample Sample",
        title=None,
        organization="Sample",
    )
