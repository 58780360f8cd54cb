"""The mobile-ID certificate profile (ARCHITECTURE §5, docs/uzi-profile.md)."""

from issuer.profile.attributes import (
    AgbCode,
    CardType,
    InvalidAttributesError,
    RoleCode,
    Ura,
    UziNumber,
    VerifiedAttributes,
)
from issuer.profile.builder import (
    SERIAL_BITS,
    UZI_OTHERNAME_OID,
    ProfileError,
    build_subject,
    build_tbs,
    draw_serial,
    encode_uzi_othername,
    signature_hash,
    validity_window,
)
from issuer.profile.csr import CsrError, check_csr

__all__ = [
    "SERIAL_BITS",
    "UZI_OTHERNAME_OID",
    "AgbCode",
    "CardType",
    "CsrError",
    "InvalidAttributesError",
    "ProfileError",
    "RoleCode",
    "Ura",
    "UziNumber",
    "VerifiedAttributes",
    "build_subject",
    "build_tbs",
    "check_csr",
    "draw_serial",
    "encode_uzi_othername",
    "signature_hash",
    "validity_window",
]
