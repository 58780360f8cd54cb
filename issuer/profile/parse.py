"""Reading the UZI identity back from a certificate's SAN otherName.

The login flow (and any relying party) takes the identity from the UZI SAN
string of a mobile-ID certificate. The value is decoded as ASN.1
(``[0] EXPLICIT IA5String``, docs/uzi-profile.md), never by slicing bytes,
and the string is split by its documented layout.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from asn1crypto import core as acore
from cryptography import x509

from issuer.profile.attributes import AgbCode, RoleCode, Ura, UziNumber
from issuer.profile.builder import UZI_OTHERNAME_OID

_SAN_RE = re.compile(
    r"^(?P<oid>[0-2](?:\.(?:0|[1-9][0-9]*))+)-1-(?P<uzi>[0-9]{9})-(?P<card>[ZNMS])-"
    r"(?P<ura>[0-9]{8})-(?P<role>[0-9]{2}\.[0-9]{3})-(?P<agb>[0-9]{8})$"
)


class UziSanError(ValueError):
    """A certificate without one well-formed UZI SAN string."""

    def __init__(self, got: str) -> None:
        super().__init__(
            f"UZI SAN: got {got}; expected one otherName 2.5.5.5 holding an IA5String "
            "'<CA OID>-1-<UZI nr>-<card type>-<URA>-<role>-<AGB>'. "
            "The certificate is not a UZI-style certificate; refuse it."
        )


@dataclass(frozen=True, kw_only=True)
class UziSan:
    """The fields of a UZI SAN string."""

    ca_oid: str
    uzi_number: UziNumber
    card_type: str
    subscriber_number: Ura
    role: RoleCode
    agb_code: AgbCode


def parse_san_string(text: str) -> UziSan:
    """Split a UZI SAN string by its documented layout."""
    match = _SAN_RE.match(text)
    if match is None:
        raise UziSanError(repr(text))
    return UziSan(
        ca_oid=match["oid"],
        uzi_number=UziNumber(match["uzi"]),
        card_type=match["card"],
        subscriber_number=Ura(match["ura"]),
        role=RoleCode(match["role"]),
        agb_code=AgbCode(match["agb"]),
    )


def read_uzi_san(cert: x509.Certificate) -> UziSan:
    """The UZI SAN of ``cert``; :class:`UziSanError` unless there is exactly one."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (x509.ExtensionNotFound, x509.DuplicateExtension, ValueError):
        raise UziSanError("no readable subjectAltName") from None
    values = [
        name.value
        for name in san
        if isinstance(name, x509.OtherName) and name.type_id == UZI_OTHERNAME_OID
    ]
    if len(values) != 1:
        raise UziSanError(f"{len(values)} otherName 2.5.5.5 entries")
    try:
        decoded = acore.IA5String.load(values[0], strict=True)
        text = decoded.native
    except (ValueError, TypeError):
        raise UziSanError(
            f"a value that is not one DER IA5String ({values[0][:4].hex()}...)"
        ) from None
    if not isinstance(text, str):
        raise UziSanError("an empty value")
    return parse_san_string(text)
