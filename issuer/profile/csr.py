"""Reading a phone's CSR: proof of possession and the public key, nothing else.

RFC 2986 §3: the CSR is signed with the private key whose public key it
carries, so a valid signature proves possession. Subject, attributes and
requested extensions are *never* copied (ARCHITECTURE §5): the certificate's
content comes from the verified UZI attributes and the policy.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from issuer.errors import Code
from issuer.keys import PublicKey, WeakKeyError, check_public_key
from issuer.x509util import Defect, Part, X509ParseError, parsing
from policies import Policy

MAX_CSR_BYTES = 16 * 1024
"""A P-384 or RSA-8192 CSR is well below this; bigger input is refused unread."""

_ACCEPTED_HASHES = (hashes.SHA256, hashes.SHA384, hashes.SHA512)


CSR_MALFORMED: Final = Code.ZID_1201
"""Unreadable, too large, a refused hash or a signature that does not verify."""
CSR_VERSION: Final = Code.ZID_1260
CSR_SIGNATURE_ALGORITHM: Final = Code.ZID_1261
CSR_SIGNATURE_PARAMETERS: Final = Code.ZID_1262
CSR_PUBLIC_KEY: Final = Code.ZID_1263
CSR_CODES: Final = frozenset(
    {CSR_MALFORMED, CSR_VERSION, CSR_SIGNATURE_ALGORITHM, CSR_SIGNATURE_PARAMETERS, CSR_PUBLIC_KEY}
)
"""Every code a :class:`CsrError` carries: each is the phone's fault, a failed attempt."""


class CsrError(ValueError):
    """A CSR that cannot be used; the message says why and what to send.

    ``reason`` names the defect (``malformed``, ``version``, ...), ``code``
    the catalogue refusal (:data:`CSR_CODES`, rows in ``issuer/errors/issuance.py``).
    """

    def __init__(self, reason: str, got: str, expected: str, *, code: Code = CSR_MALFORMED) -> None:
        self.reason = reason
        self.code = code
        super().__init__(
            f"CSR refused ({reason}): got {got}; expected {expected}. "
            "Create a new CSR in the phone's key store and send it again."
        )


_DEFECT_REFUSALS: Final[Mapping[Defect, tuple[str, str, Code]]] = {
    Defect.VERSION: ("version", "version v1 (0), RFC 2986 section 4.1", CSR_VERSION),
    Defect.UNKNOWN_ALGORITHM: (
        "signature-algorithm",
        "ECDSA or RSA with SHA-256, SHA-384 or SHA-512",
        CSR_SIGNATURE_ALGORITHM,
    ),
    Defect.ALGORITHM_PARAMETERS: (
        "signature-parameters",
        "the algorithm's parameters (RSA-PSS: hash, MGF1, salt length; RFC 4055 section 3.1)",
        CSR_SIGNATURE_PARAMETERS,
    ),
    Defect.PUBLIC_KEY: ("unsupported-key", "an EC P-256/P-384 or RSA key", CSR_PUBLIC_KEY),
}
"""The parse defects with a refusal of their own; any other is ``malformed`` (ZID-1201)."""


def _refusal(exc: X509ParseError) -> CsrError:
    """The refusal for a defect the library found while parsing (issue 16, item 7)."""
    reason, expected, code = _DEFECT_REFUSALS.get(
        exc.defect, ("malformed", "a PKCS#10 CSR in DER or PEM", CSR_MALFORMED)
    )
    return CsrError(reason, f"{exc.part} unreadable: {exc.detail}", expected, code=code)


def check_csr(csr_der_or_pem: bytes | str, policy: Policy) -> PublicKey:
    """Verify a CSR's signature and key; return only its public key.

    Raises :class:`CsrError` for malformed input (every parse error of the
    library, each kind of defect with its own code), a bad signature or a weak
    signature hash, and :class:`~issuer.keys.WeakKeyError` for a key the
    policy refuses.
    """
    data = csr_der_or_pem.encode("ascii") if isinstance(csr_der_or_pem, str) else csr_der_or_pem
    if len(data) > MAX_CSR_BYTES:
        raise CsrError("too-large", f"{len(data)} bytes", f"at most {MAX_CSR_BYTES} bytes")
    try:
        with parsing(Part.ENCODING):
            if data.lstrip().startswith(b"-----BEGIN"):
                csr = x509.load_pem_x509_csr(data)
            else:
                csr = x509.load_der_x509_csr(data)
        with parsing(Part.SIGNATURE_ALGORITHM):
            algorithm = csr.signature_hash_algorithm
        if not isinstance(algorithm, _ACCEPTED_HASHES):
            name = algorithm.name if algorithm is not None else "none"
            raise CsrError("signature-hash", name, "SHA-256, SHA-384 or SHA-512")
        with parsing(Part.PUBLIC_KEY):
            public_key = csr.public_key()
        with parsing(Part.SIGNATURE_ALGORITHM):
            valid = csr.is_signature_valid
    except X509ParseError as exc:
        raise _refusal(exc) from None
    if not valid:
        raise CsrError("bad-signature", "a signature that does not verify", "proof of possession")
    return check_public_key(public_key, policy.keys)


__all__ = ["CSR_CODES", "MAX_CSR_BYTES", "CsrError", "WeakKeyError", "check_csr"]
