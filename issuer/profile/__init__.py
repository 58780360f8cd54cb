"""The mobile-ID certificate profile (ARCHITECTURE §5, docs/uzi-profile.md)."""

from issuer.profile.attributes import InvalidAttributesError, VerifiedAttributes
from issuer.profile.builder import (
    SERIAL_BITS,
    ProfileError,
    build_subject,
    build_tbs,
    draw_serial,
    encode_uzi_othername,
    hash_named,
    signature_hash,
    validity_window,
)
from issuer.profile.csr import CsrError, check_csr
from issuer.profile.parse import UziSanError, parse_san_string, read_uzi_san

__all__ = [
    "SERIAL_BITS",
    "CsrError",
    "InvalidAttributesError",
    "ProfileError",
    "UziSanError",
    "VerifiedAttributes",
    "build_subject",
    "build_tbs",
    "check_csr",
    "draw_serial",
    "encode_uzi_othername",
    "hash_named",
    "parse_san_string",
    "read_uzi_san",
    "signature_hash",
    "validity_window",
]
