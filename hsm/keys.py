"""HSM keys as ``cryptography`` private-key objects.

``x509.CertificateBuilder.sign``, ``CertificateSigningRequestBuilder.sign``,
``CertificateRevocationListBuilder.sign`` and ``ocsp.OCSPResponseBuilder.sign``
accept any subclass of ``ec.EllipticCurvePrivateKey`` / ``rsa.RSAPrivateKey``
and call its ``sign()`` with the *unhashed* to-be-signed bytes. Our ``sign()``
turns that into one PKCS#11 ``C_Sign``:

* ECDSA: SoftHSM 2.6 has no ``CKM_ECDSA_SHA256``, so we hash in Python, sign
  the digest with ``CKM_ECDSA`` and DER-encode the raw ``r || s`` that PKCS#11
  returns (PKCS#11 v2.40 section 2.3.1) as ``ECDSA-Sig-Value`` (RFC 3279
  section 2.2.3).
* RSA PKCS#1 v1.5 (RFC 8017 section 8.2): ``CKM_SHA256_RSA_PKCS`` /
  ``CKM_SHA384_RSA_PKCS`` / ``CKM_SHA512_RSA_PKCS``.
* RSA-PSS (RFC 8017 section 8.1): ``CKM_SHA*_RSA_PKCS_PSS`` with
  ``CK_RSA_PKCS_PSS_PARAMS`` = (same hash, MGF1 with the same hash, salt
  length). RFC 4055 section 3.1 recommends MGF1 with the signing hash; other
  MGF hashes are refused.

The private half never leaves the token: ``private_bytes()``,
``private_numbers()``, ``exchange()`` and ``decrypt()`` raise
:class:`~hsm.errors.KeyNotExportable`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric import padding as _padding
from cryptography.hazmat.primitives.asymmetric.utils import (
    NoDigestInfo,
    Prehashed,
)
from pkcs11 import MGF, Mechanism

from hsm.errors import KeyNotExportable, UnsupportedAlgorithm
from hsm.spec import KeySpec

if TYPE_CHECKING:
    from hsm.token import Hsm
    from hsm.uri import Pkcs11Uri

# hash name -> (PKCS#1 v1.5 mech, PSS mech, CKM hash, CKG MGF)
_OAEP_HASHES: dict[str, tuple[Mechanism, MGF]] = {
    "sha1": (Mechanism.SHA_1, MGF.SHA1),
    "sha256": (Mechanism.SHA256, MGF.SHA256),
    "sha384": (Mechanism.SHA384, MGF.SHA384),
    "sha512": (Mechanism.SHA512, MGF.SHA512),
}
"""OAEP's hash and MGF1 (RFC 8017 §7.1). SHA-1 is allowed here: OAEP needs no collision
resistance, and it is what many cards (and SoftHSM 2.6) do."""

_RSA_MECHS: dict[str, tuple[Mechanism, Mechanism, Mechanism, MGF]] = {
    "sha256": (
        Mechanism.SHA256_RSA_PKCS,
        Mechanism.SHA256_RSA_PKCS_PSS,
        Mechanism.SHA256,
        MGF.SHA256,
    ),
    "sha384": (
        Mechanism.SHA384_RSA_PKCS,
        Mechanism.SHA384_RSA_PKCS_PSS,
        Mechanism.SHA384,
        MGF.SHA384,
    ),
    "sha512": (
        Mechanism.SHA512_RSA_PKCS,
        Mechanism.SHA512_RSA_PKCS_PSS,
        Mechanism.SHA512,
        MGF.SHA512,
    ),
}
_EC_HASHERS: dict[str, Callable[[bytes | bytearray | memoryview], Any]] = {
    "sha256": hashlib.sha256,
    "sha384": hashlib.sha384,
    "sha512": hashlib.sha512,
}
"""The hashes an EC key signs with, by name (the constructor, not ``hashlib.new``)."""


def _der_integer(value: bytes) -> bytes:
    """A non-negative big-endian integer as a DER INTEGER (X.690 §8.3: minimal, positive)."""
    value = value.lstrip(b"\x00") or b"\x00"
    if value[0] & 0x80:
        value = b"\x00" + value
    return bytes((0x02, len(value))) + value


def ecdsa_der(raw: bytes) -> bytes:
    """PKCS#11's ``r || s`` (v2.40 §2.3.1) as ``ECDSA-Sig-Value`` DER (RFC 3279 §2.2.3).

    What ``encode_dss_signature(int(r), int(s))`` returns, from the bytes
    directly (tests/hsm/test_keys.py checks equality); P-256 to P-521 halves
    keep every length below 128 except P-521's, which takes the long form.
    """
    half = len(raw) // 2
    if len(raw) != 2 * half or half == 0:
        raise ValueError(f"an ECDSA signature of {len(raw)} bytes; expected r || s of equal size")
    body = _der_integer(raw[:half]) + _der_integer(raw[half:])
    if len(body) < 0x80:
        return bytes((0x30, len(body))) + body
    return bytes((0x30, 0x81, len(body))) + body


def _not_exportable(what: str, label: str) -> NoReturn:
    raise KeyNotExportable(
        f"{what} is not possible for HSM key {label!r}: the private key is generated with "
        "CKA_EXTRACTABLE=false and never leaves the HSM; sign through the key object instead"
    )


class _HsmKeyMixin:
    """State shared by the EC and RSA key classes (identity, owning Hsm, public key)."""

    __slots__ = ()
    _hsm: Hsm
    _label: str
    _key_id: bytes
    _spec: KeySpec
    _public: Any

    @property
    def label(self) -> str:
        """``CKA_LABEL`` of the private key object."""
        return self._label

    @property
    def key_id(self) -> bytes:
        """``CKA_ID`` shared by the private and public key objects."""
        return self._key_id

    @property
    def spec(self) -> KeySpec:
        return self._spec

    @property
    def uri(self) -> Pkcs11Uri:
        """RFC 7512 URI naming this key (module path kept, PIN source dropped)."""
        return self._hsm.uri.with_object(self._label, self._key_id).without_pin_source()

    @property
    def hsm(self) -> Hsm:
        return self._hsm

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} label={self._label!r} id={self._key_id.hex()} "
            f"spec={self._spec.value} token={self._hsm.token_label!r}>"
        )


class HsmEcPrivateKey(_HsmKeyMixin, ec.EllipticCurvePrivateKey):
    """An EC private key held in a PKCS#11 token."""

    def __init__(
        self,
        *,
        hsm: Hsm,
        label: str,
        key_id: bytes,
        spec: KeySpec,
        public_key: ec.EllipticCurvePublicKey,
    ) -> None:
        self._hsm = hsm
        self._label = label
        self._key_id = key_id
        self._spec = spec
        self._public = public_key

    def sign(
        self,
        data: bytes | bytearray | memoryview,
        signature_algorithm: ec.EllipticCurveSignatureAlgorithm,
    ) -> bytes:
        if not isinstance(signature_algorithm, ec.ECDSA):
            raise UnsupportedAlgorithm(
                f"EC key {self._label!r} signs with ECDSA only; got "
                f"{type(signature_algorithm).__name__}, pass ec.ECDSA(hashes.SHA256())"
            )
        algorithm = signature_algorithm.algorithm
        if isinstance(algorithm, Prehashed):
            digest = bytes(data)
            if len(digest) != algorithm.digest_size:
                raise UnsupportedAlgorithm(
                    f"prehashed digest is {len(digest)} bytes, expected "
                    f"{algorithm.digest_size} for {algorithm._algorithm.name}"
                )
            name = algorithm._algorithm.name
        else:
            name = algorithm.name
            hasher = _EC_HASHERS.get(name)
            if hasher is None:
                raise UnsupportedAlgorithm(
                    f"ECDSA with {name} is not supported; use SHA-256, SHA-384 or SHA-512"
                )
            digest = hasher(data).digest()
        if name not in _EC_HASHERS:
            raise UnsupportedAlgorithm(
                f"ECDSA with {name} is not supported; use SHA-256, SHA-384 or SHA-512"
            )
        return ecdsa_der(self._hsm._sign(self, Mechanism.ECDSA, None, digest))

    def public_key(self) -> ec.EllipticCurvePublicKey:
        return self._public  # type: ignore[no-any-return]

    @property
    def curve(self) -> ec.EllipticCurve:
        return self._public.curve  # type: ignore[no-any-return]

    @property
    def key_size(self) -> int:
        return self._spec.key_size

    def exchange(self, algorithm: ec.ECDH, peer_public_key: ec.EllipticCurvePublicKey) -> bytes:
        _not_exportable("ECDH key agreement", self._label)

    def private_numbers(self) -> ec.EllipticCurvePrivateNumbers:
        _not_exportable("reading the private numbers", self._label)

    def private_bytes(
        self,
        encoding: serialization.Encoding,
        format: serialization.PrivateFormat,
        encryption_algorithm: serialization.KeySerializationEncryption,
    ) -> bytes:
        _not_exportable("serialising the private key", self._label)

    def __copy__(self) -> HsmEcPrivateKey:
        return self

    def __deepcopy__(self, memo: dict[int, object]) -> HsmEcPrivateKey:
        return self


class HsmRsaPrivateKey(_HsmKeyMixin, rsa.RSAPrivateKey):
    """An RSA private key held in a PKCS#11 token."""

    def __init__(
        self,
        *,
        hsm: Hsm,
        label: str,
        key_id: bytes,
        spec: KeySpec,
        public_key: rsa.RSAPublicKey,
    ) -> None:
        self._hsm = hsm
        self._label = label
        self._key_id = key_id
        self._spec = spec
        self._public = public_key

    def sign(
        self,
        data: bytes | bytearray | memoryview,
        padding: _padding.AsymmetricPadding,
        algorithm: hashes.HashAlgorithm | Prehashed | NoDigestInfo,
    ) -> bytes:
        if isinstance(algorithm, (Prehashed, NoDigestInfo)):
            raise UnsupportedAlgorithm(
                f"RSA key {self._label!r}: prehashed input is not supported (the token hashes); "
                "pass the message and hashes.SHA256()/SHA384()"
            )
        mechs = _RSA_MECHS.get(algorithm.name)
        if mechs is None:
            raise UnsupportedAlgorithm(
                f"RSA signing with {algorithm.name} is not supported; use SHA-256, SHA-384 "
                "or SHA-512"
            )
        pkcs1_mech, pss_mech, hash_mech, mgf = mechs
        if isinstance(padding, _padding.PKCS1v15):
            return self._hsm._sign(self, pkcs1_mech, None, bytes(data))
        if isinstance(padding, _padding.PSS):
            param = (hash_mech, mgf, self._pss_salt_length(padding, algorithm))
            return self._hsm._sign(self, pss_mech, param, bytes(data))
        raise UnsupportedAlgorithm(
            f"RSA padding {type(padding).__name__} is not supported for signing; "
            "use padding.PKCS1v15() or padding.PSS(...)"
        )

    def _pss_salt_length(self, pss: _padding.PSS, algorithm: hashes.HashAlgorithm) -> int:
        """Salt length per RFC 8017 section 9.1.1: at most emLen - hLen - 2 bytes."""
        mgf = pss.mgf
        if not isinstance(mgf, _padding.MGF1) or mgf._algorithm.name != algorithm.name:
            got = getattr(getattr(mgf, "_algorithm", None), "name", type(mgf).__name__)
            raise UnsupportedAlgorithm(
                f"PSS with MGF1-{got} and {algorithm.name}: only MGF1 with the signing hash "
                f"is supported (RFC 4055 3.1); pass padding.MGF1(hashes.{algorithm.name.upper()}())"
            )
        em_len: int = (self._public.key_size - 1 + 7) // 8
        max_salt = em_len - algorithm.digest_size - 2
        salt = pss._salt_length
        if isinstance(salt, int):
            if not 0 <= salt <= max_salt:
                raise UnsupportedAlgorithm(
                    f"PSS salt length {salt} is out of range for a {self.key_size}-bit key with "
                    f"{algorithm.name}: expected 0..{max_salt}"
                )
            return salt
        if salt is _padding.PSS.DIGEST_LENGTH:
            return algorithm.digest_size
        if salt is _padding.PSS.MAX_LENGTH:
            return max_salt
        raise UnsupportedAlgorithm(
            "PSS salt length AUTO is only meaningful for verification; "
            "sign with PSS.DIGEST_LENGTH, PSS.MAX_LENGTH or an explicit length"
        )

    def public_key(self) -> rsa.RSAPublicKey:
        return self._public  # type: ignore[no-any-return]

    @property
    def key_size(self) -> int:
        return self._public.key_size  # type: ignore[no-any-return]

    def decrypt(self, ciphertext: bytes, padding: _padding.AsymmetricPadding) -> bytes:
        """Decrypt on the token (a key generated with ``decrypt=True``; the token refuses
        any other): OAEP with MGF1 of the same SHA-2 hash and no label, or PKCS#1 v1.5."""
        if isinstance(padding, _padding.PKCS1v15):
            return self._hsm._decrypt(self, Mechanism.RSA_PKCS, None, bytes(ciphertext))
        if isinstance(padding, _padding.OAEP):
            name = padding._algorithm.name
            mgf = padding._mgf
            oaep = _OAEP_HASHES.get(name)
            if (
                oaep is None
                or not isinstance(mgf, _padding.MGF1)
                or mgf._algorithm.name != name
                or padding._label
            ):
                raise UnsupportedAlgorithm(
                    f"RSA key {self._label!r}: OAEP with {name} is supported only with SHA-1/"
                    "256/384/512, MGF1 of the same hash and no label"
                )
            param = (*oaep, None)
            return self._hsm._decrypt(self, Mechanism.RSA_PKCS_OAEP, param, bytes(ciphertext))
        raise UnsupportedAlgorithm(
            f"RSA padding {type(padding).__name__} is not supported for decryption; "
            "use padding.OAEP(...) or padding.PKCS1v15()"
        )

    def private_numbers(self) -> rsa.RSAPrivateNumbers:
        _not_exportable("reading the private numbers", self._label)

    def private_bytes(
        self,
        encoding: serialization.Encoding,
        format: serialization.PrivateFormat,
        encryption_algorithm: serialization.KeySerializationEncryption,
    ) -> bytes:
        _not_exportable("serialising the private key", self._label)

    def __copy__(self) -> HsmRsaPrivateKey:
        return self

    def __deepcopy__(self, memo: dict[int, object]) -> HsmRsaPrivateKey:
        return self


HsmPrivateKey = HsmEcPrivateKey | HsmRsaPrivateKey
"""What :meth:`hsm.Hsm.get_key` returns."""
