"""Small helpers for building and reading X.509 values the same way everywhere."""

from __future__ import annotations

import contextlib
import enum
from collections.abc import Iterator
from typing import Final

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm

KEY_USAGE_BITS: Final = (
    "digital_signature",
    "content_commitment",
    "key_encipherment",
    "data_encipherment",
    "key_agreement",
    "key_cert_sign",
    "crl_sign",
    "encipher_only",
    "decipher_only",
)


def key_usage(*bits: str) -> x509.KeyUsage:
    """A keyUsage value (RFC 5280 §4.2.1.3) with exactly the named bits set.

    ``cryptography`` wants all nine flags spelled out; naming only the bits that
    are set keeps each profile readable and makes a typo an error, not a silent
    ``False``.
    """
    unknown = set(bits) - set(KEY_USAGE_BITS)
    if unknown:
        raise ValueError(f"unknown keyUsage bits {sorted(unknown)}; expected {KEY_USAGE_BITS}")
    return x509.KeyUsage(**{name: name in bits for name in KEY_USAGE_BITS})


# --------------------------------------------------------------------------- parse errors

X509_PARSE_ERRORS: Final = (
    ValueError,
    TypeError,
    UnsupportedAlgorithm,
    x509.InvalidVersion,
    x509.DuplicateExtension,
    x509.UnsupportedGeneralNameType,
)
"""Everything ``cryptography`` raises while it parses hostile DER (issue 16, item 7).

``load_der_*`` and the lazily parsed fields (names, extensions, key, signature
algorithm) raise ``ValueError`` for most defects, but not all: an invalid
version, a duplicate extension and an x400Address are ``Exception``
subclasses of their own, an unknown algorithm OID is ``UnsupportedAlgorithm``,
and a name attribute whose value type does not fit its OID is a ``TypeError``.
Each of these once escaped as an internal error; :func:`parsing` catches the
whole family in one place.
"""


class Part(enum.StrEnum):
    """Which part of a certificate or CSR was being read when parsing failed."""

    ENCODING = "encoding"
    """The outer structure (``load_der_*``/``load_pem_*``): the version is checked here."""
    SIGNATURE_ALGORITHM = "signature-algorithm"
    NAMES = "names"
    EXTENSIONS = "extensions"
    PUBLIC_KEY = "public-key"
    FIELDS = "fields"
    """Serial number and validity."""


class Defect(enum.StrEnum):
    """The kind of defect a parse error shows; callers map each to a refusal code."""

    MALFORMED = "malformed"
    VERSION = "version"
    UNKNOWN_ALGORITHM = "unknown-algorithm"
    ALGORITHM_PARAMETERS = "algorithm-parameters"
    NAME_ATTRIBUTE_TYPE = "name-attribute-type"
    DUPLICATE_EXTENSION = "duplicate-extension"
    GENERAL_NAME_TYPE = "general-name-type"
    PUBLIC_KEY = "public-key"


class X509ParseError(Exception):
    """``cryptography`` refused part of a certificate or CSR; ``defect`` says what kind.

    Not a ``ValueError`` on purpose: callers that still catch ``ValueError``
    for their own checks must not swallow (or re-classify) it by accident.
    """

    def __init__(self, *, part: Part, defect: Defect, detail: str) -> None:
        self.part = part
        self.defect = defect
        self.detail = detail
        super().__init__(f"{part} unreadable ({defect}): {detail}")


def classify(exc: BaseException, part: Part) -> Defect:
    """The defect behind a parse error raised while reading *part*.

    The exception class names the defect where ``cryptography`` has a class
    for it; a plain ``ValueError`` is named by the part being read (in the
    signature algorithm it means bad parameters, e.g. RSA-PSS without them,
    RFC 4055 section 3.1).
    """
    if isinstance(exc, x509.InvalidVersion):
        return Defect.VERSION
    if isinstance(exc, x509.DuplicateExtension):
        return Defect.DUPLICATE_EXTENSION
    if isinstance(exc, x509.UnsupportedGeneralNameType):
        return Defect.GENERAL_NAME_TYPE
    if part is Part.PUBLIC_KEY:
        return Defect.PUBLIC_KEY
    if isinstance(exc, UnsupportedAlgorithm):
        return Defect.UNKNOWN_ALGORITHM
    if part is Part.SIGNATURE_ALGORITHM:
        return Defect.ALGORITHM_PARAMETERS
    if part is Part.NAMES and isinstance(exc, TypeError):
        return Defect.NAME_ATTRIBUTE_TYPE
    return Defect.MALFORMED


@contextlib.contextmanager
def parsing(part: Part) -> Iterator[None]:
    """Turn any of :data:`X509_PARSE_ERRORS` raised in the block into :class:`X509ParseError`.

    Wrap only reads of library-parsed fields: a ``TypeError`` from one's own
    code would otherwise be reported as hostile input.
    """
    try:
        yield
    except X509ParseError:
        raise
    except X509_PARSE_ERRORS as exc:
        raise X509ParseError(part=part, defect=classify(exc, part), detail=str(exc)) from None


def parse_certificate_fully(cert: x509.Certificate) -> None:
    """Read every lazily parsed field of *cert* now, so hostile DER is refused at the door.

    ``cryptography`` parses names, extensions and the key on first access; a
    defect would otherwise surface wherever a field is first read. Raises
    :class:`X509ParseError`.
    """
    with parsing(Part.NAMES):
        for name in (cert.subject, cert.issuer):
            name.rfc4514_string()
    with parsing(Part.EXTENSIONS):
        for ext in cert.extensions:
            _ = ext.value
    with parsing(Part.PUBLIC_KEY):
        cert.public_key()
    with parsing(Part.FIELDS):
        _ = (cert.serial_number, cert.not_valid_before_utc, cert.not_valid_after_utc)
    with parsing(Part.SIGNATURE_ALGORITHM):
        _ = cert.signature_algorithm_oid
