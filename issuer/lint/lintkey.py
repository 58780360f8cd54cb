"""The throwaway lint key, and signing / verifying exactly the linted TBS bytes.

ARCHITECTURE §5 step 3 (Boulder's way): the TBSCertificate is signed first
with a software key of the *same type* as the issuing CA key, so that the
signature AlgorithmIdentifier inside the TBS is the one the HSM signature will
carry; the linted bytes are then signed with the HSM key, and that signature
is verified over those very bytes with the issuing CA certificate's public key
(:func:`verify_tbs_signature`): what was linted is what was signed, and by the
issuing CA's key. The lint key signs nothing anyone trusts: it lives in this
process's memory only, is made once per process, and its certificates are
discarded.
"""

from __future__ import annotations

import threading

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes

from issuer.lint.findings import Finding, LintError, Severity
from issuer.profile import signature_hash
from issuer.profile.der import read_tlv, tlv
from policies import Policy

LintKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey

_lock = threading.Lock()
_keys: dict[tuple[str, int], LintKey] = {}


def lint_key_for(issuer_public_key: PublicKeyTypes) -> LintKey:
    """A process-wide software key of the issuing CA key's type and size."""
    if isinstance(issuer_public_key, ec.EllipticCurvePublicKey):
        slot = (issuer_public_key.curve.name, issuer_public_key.key_size)
    elif isinstance(issuer_public_key, rsa.RSAPublicKey):
        slot = ("rsa", issuer_public_key.key_size)
    else:
        raise LintError(
            [
                Finding(
                    code="zorgid.lint_key_type",
                    severity=Severity.FATAL,
                    message=f"issuing CA key is {type(issuer_public_key).__name__}; "
                    "expected an EC or RSA key",
                )
            ],
            "issuing CA key",
        )
    with _lock:
        key = _keys.get(slot)
        if key is None:
            if isinstance(issuer_public_key, ec.EllipticCurvePublicKey):
                key = ec.generate_private_key(issuer_public_key.curve)
            else:
                key = rsa.generate_private_key(65537, issuer_public_key.key_size)
            _keys[slot] = key
        return key


def lint_sign(
    builder: x509.CertificateBuilder, policy: Policy, issuer_cert: x509.Certificate
) -> x509.Certificate:
    """Sign ``builder`` with the lint key matching ``issuer_cert``'s key."""
    key = lint_key_for(issuer_cert.public_key())
    return builder.sign(key, signature_hash(policy))


# X.509 AlgorithmIdentifier DER of each (key type, hash) the profile can sign with:
# ecdsa-with-SHA* (RFC 5758 §3.2, parameters absent) and sha*WithRSAEncryption
# (RFC 4055 §5, parameters NULL) -- what cryptography's builder writes.
_ALGORITHM_IDS: dict[tuple[str, str], bytes] = {
    ("ec", "sha256"): bytes.fromhex("300a06082a8648ce3d040302"),
    ("ec", "sha384"): bytes.fromhex("300a06082a8648ce3d040303"),
    ("ec", "sha512"): bytes.fromhex("300a06082a8648ce3d040304"),
    ("rsa", "sha256"): bytes.fromhex("300d06092a864886f70d01010b0500"),
    ("rsa", "sha384"): bytes.fromhex("300d06092a864886f70d01010c0500"),
    ("rsa", "sha512"): bytes.fromhex("300d06092a864886f70d01010d0500"),
}


def algorithm_id(key: LintKey, algorithm: hashes.HashAlgorithm) -> bytes:
    """The signature AlgorithmIdentifier DER for ``key`` signing with ``algorithm``."""
    kind = "ec" if isinstance(key, ec.EllipticCurvePrivateKey) else "rsa"
    found = _ALGORITHM_IDS.get((kind, algorithm.name))
    if found is None:
        raise ValueError(f"no signature algorithm for a {kind} key with {algorithm.name}")
    return found


def sign_tbs_der(
    tbs_der: bytes, key: LintKey, algorithm: hashes.HashAlgorithm, signature_algorithm: bytes
) -> bytes:
    """``Certificate ::= SEQUENCE { tbs, signatureAlgorithm, BIT STRING signature }``.

    Signs exactly ``tbs_der`` (RFC 5280 §4.1.1.3). ``signature_algorithm`` is
    the AlgorithmIdentifier inside the TBS; it must be the one ``key`` and
    ``algorithm`` produce (RFC 5280 §4.1.1.2: both fields MUST be equal), else
    ``ValueError`` and nothing is signed.
    """
    if algorithm_id(key, algorithm) != signature_algorithm:
        raise ValueError(
            f"the TBS names signature algorithm {signature_algorithm.hex()}; "
            f"the key and hash give {algorithm_id(key, algorithm).hex()}"
        )
    if isinstance(key, ec.EllipticCurvePrivateKey):
        signature = key.sign(tbs_der, ec.ECDSA(algorithm))
    else:
        signature = key.sign(tbs_der, padding.PKCS1v15(), algorithm)
    return tlv(0x30, tbs_der + signature_algorithm + tlv(0x03, b"\x00" + signature))


class SignatureInvalid(Exception):
    """A signature over a TBSCertificate does not verify under the issuer's public key."""


def verify_tbs_signature(
    tbs_der: bytes,
    signature: bytes,
    issuer_public_key: PublicKeyTypes,
    algorithm: hashes.HashAlgorithm,
) -> None:
    """Raise :class:`SignatureInvalid` unless ``signature`` over exactly ``tbs_der``
    verifies under ``issuer_public_key`` (the issuing CA certificate's key).

    The HSM is trusted to sign, not to sign with the right key: a key label that
    names another key of the token signs without complaint (issue 16 item 8).
    """
    try:
        if isinstance(issuer_public_key, ec.EllipticCurvePublicKey):
            issuer_public_key.verify(signature, tbs_der, ec.ECDSA(algorithm))
            return
        if isinstance(issuer_public_key, rsa.RSAPublicKey):
            issuer_public_key.verify(signature, tbs_der, padding.PKCS1v15(), algorithm)
            return
    except InvalidSignature:
        raise SignatureInvalid(
            "the HSM's signature over the linted TBSCertificate does not verify under the "
            "issuing CA certificate's public key; expected the issuing CA key to have signed"
        ) from None
    raise SignatureInvalid(
        f"the issuing CA certificate holds a {type(issuer_public_key).__name__}; "
        "expected an EC or RSA key"
    )


def load_assembled(der: bytes, tbs_der: bytes) -> x509.Certificate:
    """Parse a certificate :func:`sign_tbs_der` assembled around ``tbs_der``.

    ``ValueError`` unless ``der`` starts with the header of a certificate whose
    first element is exactly ``tbs_der``.
    """
    _, start, _ = read_tlv(der, 0)
    if der[start : start + len(tbs_der)] != tbs_der:
        raise ValueError("the certificate DER does not hold the given TBSCertificate first")
    return x509.load_der_x509_certificate(der)
