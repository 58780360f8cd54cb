"""Signing and verifying audit checkpoints with a ``cryptography`` key.

The checkpoint key lives in the HSM; the ``hsm`` package exposes it as an
``ec.EllipticCurvePrivateKey`` subclass whose ``sign()`` calls PKCS#11, so this
module only speaks cryptography's interface and never sees key material.
ECDSA with SHA-256 (FIPS 186-5) is the expected algorithm; RSA PKCS#1 v1.5 with
SHA-256 (RFC 8017 §8.2) is accepted for operators whose HSM policy mandates RSA.
"""

from __future__ import annotations

import hashlib

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from issuer.audit.errors import AuditKeyError

CheckpointSigner = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
CheckpointVerifier = ec.EllipticCurvePublicKey | rsa.RSAPublicKey


def key_sha256(public_key: CheckpointVerifier) -> str:
    """Lowercase hex SHA-256 of the SubjectPublicKeyInfo DER: the checkpoint key's id."""
    spki = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(spki).hexdigest()


def sign(key: CheckpointSigner, message: bytes) -> bytes:
    """Sign *message* (DER ECDSA signature, or RSA PKCS#1 v1.5), hashing with SHA-256."""
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return key.sign(message, ec.ECDSA(hashes.SHA256()))
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(message, padding.PKCS1v15(), hashes.SHA256())
    raise AuditKeyError(
        f"got a {type(key).__name__} as audit checkpoint key; expected an EC (P-256) or RSA "
        "private key object: configure [hsm] audit with an EC P-256 key"
    )


def verify(public_key: CheckpointVerifier, signature: bytes, message: bytes) -> bool:
    """Whether *signature* is a valid checkpoint signature of *message* under *public_key*."""
    try:
        if isinstance(public_key, ec.EllipticCurvePublicKey):
            public_key.verify(signature, message, ec.ECDSA(hashes.SHA256()))
        elif isinstance(public_key, rsa.RSAPublicKey):
            public_key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
        else:
            raise AuditKeyError(
                f"got a {type(public_key).__name__} as audit checkpoint public key; expected "
                "an EC or RSA public key (the PEM written by `zorgid ca init`)"
            )
    except InvalidSignature:
        return False
    return True


def load_public_key(pem_or_der: bytes) -> CheckpointVerifier:
    """Load the audit checkpoint public key from PEM or DER SubjectPublicKeyInfo."""
    try:
        if pem_or_der.lstrip().startswith(b"-----"):
            key = serialization.load_pem_public_key(pem_or_der)
        else:
            key = serialization.load_der_public_key(pem_or_der)
    except ValueError as exc:
        raise AuditKeyError(
            f"could not read the audit public key ({exc}); expected a PEM or DER "
            "SubjectPublicKeyInfo such as <data_dir>/ca/audit-checkpoint.pub.pem"
        ) from exc
    if not isinstance(key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey):
        raise AuditKeyError(
            f"got a {type(key).__name__} audit public key; expected an EC or RSA public key"
        )
    return key
