"""Reading a phone's CSR: proof of possession and the public key, nothing else.

RFC 2986 §3: the CSR is signed with the private key whose public key it
carries, so a valid signature proves possession. Subject, attributes and
requested extensions are *never* copied (ARCHITECTURE §5): the certificate's
content comes from the verified UZI attributes and the policy.
"""

from __future__ import annotations

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes
from cryptography.x509.oid import SignatureAlgorithmOID

from issuer.keys import PublicKey, WeakKeyError, check_public_key
from policies import Policy

MAX_CSR_BYTES = 16 * 1024
"""A P-384 or RSA-8192 CSR is well below this; bigger input is refused unread."""

_ACCEPTED_HASHES = (hashes.SHA256, hashes.SHA384, hashes.SHA512)
_ECDSA = {h.name: ec.ECDSA(h) for h in (hashes.SHA256(), hashes.SHA384(), hashes.SHA512())}
"""One immutable ``ec.ECDSA`` per accepted hash (its constructor costs ~1 us a call)."""
_ECDSA_OIDS = frozenset(
    {
        SignatureAlgorithmOID.ECDSA_WITH_SHA256,
        SignatureAlgorithmOID.ECDSA_WITH_SHA384,
        SignatureAlgorithmOID.ECDSA_WITH_SHA512,
    }
)


class CsrError(ValueError):
    """A CSR that cannot be used; the message says why and what to send."""

    def __init__(self, reason: str, got: str, expected: str) -> None:
        self.reason = reason
        super().__init__(
            f"CSR refused ({reason}): got {got}; expected {expected}. "
            "Create a new CSR in the phone's key store and send it again."
        )


def _signature_valid(
    csr: x509.CertificateSigningRequest,
    public_key: PublicKeyTypes,
    algorithm: hashes.HashAlgorithm,
) -> bool:
    """``csr.is_signature_valid``, for an EC key with the key already parsed.

    ``is_signature_valid`` parses the CSR's key a second time (~7 us of step 1);
    for ECDSA (RFC 5758 §3.2: the hash is the signature algorithm's, no other
    parameter) verifying with the parsed key over ``tbs_certrequest_bytes`` is
    the same check when the signature algorithm is ecdsa-with-SHA*. RSA (PKCS#1
    v1.5 or PSS parameters), a key/algorithm mismatch and anything else go
    through ``is_signature_valid``.
    """
    if (
        isinstance(public_key, ec.EllipticCurvePublicKey)
        and csr.signature_algorithm_oid in _ECDSA_OIDS
    ):
        try:
            public_key.verify(csr.signature, csr.tbs_certrequest_bytes, _ECDSA[algorithm.name])
        except InvalidSignature:
            return False
        return True
    return csr.is_signature_valid


def check_csr(csr_der_or_pem: bytes | str, policy: Policy) -> PublicKey:
    """Verify a CSR's signature and key; return only its public key.

    Raises :class:`CsrError` for malformed input, a bad signature or a weak
    signature hash, and :class:`~issuer.keys.WeakKeyError` for a key the
    policy refuses.
    """
    data = csr_der_or_pem.encode("ascii") if isinstance(csr_der_or_pem, str) else csr_der_or_pem
    if len(data) > MAX_CSR_BYTES:
        raise CsrError("too-large", f"{len(data)} bytes", f"at most {MAX_CSR_BYTES} bytes")
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            csr = x509.load_pem_x509_csr(data)
        else:
            csr = x509.load_der_x509_csr(data)
    except ValueError:
        raise CsrError(
            "malformed", "bytes that do not parse", "a PKCS#10 CSR in DER or PEM"
        ) from None
    algorithm = csr.signature_hash_algorithm
    if not isinstance(algorithm, _ACCEPTED_HASHES):
        name = algorithm.name if algorithm is not None else "none"
        raise CsrError("signature-hash", name, "SHA-256, SHA-384 or SHA-512")
    try:
        public_key = csr.public_key()
        valid = _signature_valid(csr, public_key, algorithm)
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise CsrError("unsupported-key", str(exc), "an EC P-256/P-384 or RSA key") from None
    if not valid:
        raise CsrError("bad-signature", "a signature that does not verify", "proof of possession")
    return check_public_key(public_key, policy.keys)


__all__ = ["MAX_CSR_BYTES", "CsrError", "WeakKeyError", "check_csr"]
