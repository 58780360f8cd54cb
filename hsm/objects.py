"""Token objects through one open session: find them, read a key pair, make one.

Kept apart from :mod:`hsm.token` (login, sessions, recovery) so that the PKCS#11
templates -- which attributes a CA key must carry, how a public half is read back --
are read in one place. Every function runs inside ``Hsm._call``, under the module lock.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from asn1crypto.core import OctetString
from asn1crypto.keys import ECDomainParameters
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from pkcs11 import Attribute, KeyType, Mechanism, MechanismFlag, ObjectClass
from pkcs11 import exceptions as p11e
from pkcs11._pkcs11 import SearchIter  # type: ignore[attr-defined]  # not in the stub
from pkcs11.util.ec import encode_named_curve_parameters

from hsm import errors
from hsm.spec import KeyKind, KeySpec

__all__ = [
    "KeyAttributes",
    "find_objects",
    "find_public",
    "generate_keypair",
    "private_template",
    "public_key_of",
    "read_attributes",
]

_CURVES: dict[str, tuple[KeySpec, ec.EllipticCurve]] = {
    "secp256r1": (KeySpec.EC_P256, ec.SECP256R1()),
    "secp384r1": (KeySpec.EC_P384, ec.SECP384R1()),
}
_RSA_SPECS = {2048: KeySpec.RSA_2048, 3072: KeySpec.RSA_3072, 4096: KeySpec.RSA_4096}


@dataclass(frozen=True)
class KeyAttributes:
    """Security attributes of a private key as the token reports them (PKCS#11 v2.40 4.9)."""

    sensitive: bool
    extractable: bool
    always_sensitive: bool
    never_extractable: bool
    token: bool
    private: bool
    sign: bool
    decrypt: bool = False
    """``CKA_DECRYPT``: only a smartcard's encryption key (:func:`generate_keypair`)."""


def find_objects(session: Any, template: dict[Attribute, Any]) -> list[Any]:
    """``C_FindObjectsInit``/``C_FindObjects``/``C_FindObjectsFinal``, always finished here.

    python-pkcs11's ``get_objects`` leaves its search operation marked active
    when ``C_FindObjectsInit`` fails, and its ``__del__`` then calls
    ``C_FindObjectsFinal`` from the garbage collector. We finish the
    operation ourselves, while the module lock is held.
    """
    op = SearchIter(session, template, 32)
    try:
        with op:
            return [obj for batch in op for obj in batch]
    except p11e.PKCS11Error:
        with contextlib.suppress(p11e.PKCS11Error):
            op._finalize()
        raise


def private_template(label: str | None, key_id: bytes | None) -> dict[Attribute, Any]:
    """The search template of a private key by label and/or id."""
    template: dict[Attribute, Any] = {Attribute.CLASS: ObjectClass.PRIVATE_KEY}
    if label is not None:
        template[Attribute.LABEL] = label
    if key_id is not None:
        template[Attribute.ID] = key_id
    return template


def find_public(session: Any, label: str, key_id: bytes, token_label: str) -> Any:
    """The public half of a key pair: by id, else by label; exactly one."""
    found = find_objects(session, {Attribute.CLASS: ObjectClass.PUBLIC_KEY, Attribute.ID: key_id})
    if len(found) != 1:
        found = find_objects(
            session, {Attribute.CLASS: ObjectClass.PUBLIC_KEY, Attribute.LABEL: label}
        )
    if len(found) != 1:
        raise errors.KeyNotFound(
            f"found {len(found)} public key objects for key {label!r} on token "
            f"{token_label!r}, expected 1; the public half is needed to build "
            "certificates -- re-create the key pair"
        )
    return found[0]


def public_key_of(
    key_type: Any, pub: Any, label: str
) -> tuple[KeySpec, ec.EllipticCurvePublicKey | rsa.RSAPublicKey]:
    """The spec and ``cryptography`` public key of a token public-key object."""
    if key_type == KeyType.EC:
        params = bytes(pub[Attribute.EC_PARAMS])
        curve_name = ECDomainParameters.load(params).chosen.native
        if curve_name not in _CURVES:
            raise errors.UnsupportedAlgorithm(
                f"key {label!r} is on curve {curve_name}; expected P-256 or P-384"
            )
        spec, curve = _CURVES[curve_name]
        point = OctetString.load(bytes(pub[Attribute.EC_POINT])).native
        return spec, ec.EllipticCurvePublicKey.from_encoded_point(curve, point)
    if key_type == KeyType.RSA:
        n = int.from_bytes(bytes(pub[Attribute.MODULUS]), "big")
        e = int.from_bytes(bytes(pub[Attribute.PUBLIC_EXPONENT]), "big")
        rsa_public = rsa.RSAPublicNumbers(e, n).public_key()
        rsa_spec = _RSA_SPECS.get(rsa_public.key_size)
        if rsa_spec is None:
            raise errors.UnsupportedAlgorithm(
                f"key {label!r} is RSA-{rsa_public.key_size}; expected 2048, 3072 or 4096"
            )
        return rsa_spec, rsa_public
    raise errors.UnsupportedAlgorithm(
        f"key {label!r} has PKCS#11 key type {key_type!r}; expected EC or RSA"
    )


def generate_keypair(
    session: Any, label: str, key_id: bytes, spec: KeySpec, *, decrypt: bool = False
) -> None:
    """``C_GenerateKeyPair`` with the CA key attributes: sensitive, unextractable, sign only.

    *decrypt*: also ``CKA_DECRYPT`` (RSA only): a smartcard's encryption key, whose
    certificate's keyEncipherment has the card unwrap what was encrypted to it. It still
    signs, once, its own CSR (proof of possession); the certificate limits its use. No
    CA key is ever made with it.
    """
    if decrypt and spec.kind is not KeyKind.RSA:
        raise errors.UnsupportedAlgorithm(
            f"key {label!r}: got {spec.value} for a decryption key; expected RSA "
            "(keyEncipherment needs an RSA key, RFC 5480 section 3)"
        )
    private_attrs: dict[Attribute, Any] = {
        Attribute.TOKEN: True,
        Attribute.PRIVATE: True,
        Attribute.SENSITIVE: True,
        Attribute.EXTRACTABLE: False,
        Attribute.SIGN: True,
        Attribute.DECRYPT: decrypt,
        Attribute.UNWRAP: False,
        Attribute.DERIVE: False,
    }
    public_attrs: dict[Attribute, Any] = {
        Attribute.TOKEN: True,
        Attribute.PRIVATE: False,
        Attribute.VERIFY: True,
        Attribute.ENCRYPT: decrypt,
        Attribute.WRAP: False,
    }
    flags = MechanismFlag.SIGN | MechanismFlag.VERIFY
    if decrypt:
        flags |= MechanismFlag.ENCRYPT | MechanismFlag.DECRYPT
    common: dict[str, Any] = {
        "id": key_id,
        "label": label,
        "store": True,
        "capabilities": flags,
        "public_template": public_attrs,
        "private_template": private_attrs,
    }
    if spec.kind is KeyKind.EC:
        params = session.create_domain_parameters(
            KeyType.EC,
            {Attribute.EC_PARAMS: encode_named_curve_parameters(spec.curve_name)},
            local=True,
        )
        params.generate_keypair(mechanism=Mechanism.EC_KEY_PAIR_GEN, **common)
    else:
        public_attrs[Attribute.PUBLIC_EXPONENT] = b"\x01\x00\x01"
        session.generate_keypair(KeyType.RSA, spec.key_size, **common)


def read_attributes(priv: Any) -> KeyAttributes:
    """A private key object's security attributes."""
    return KeyAttributes(
        sensitive=bool(priv[Attribute.SENSITIVE]),
        extractable=bool(priv[Attribute.EXTRACTABLE]),
        always_sensitive=bool(priv[Attribute.ALWAYS_SENSITIVE]),
        never_extractable=bool(priv[Attribute.NEVER_EXTRACTABLE]),
        token=bool(priv[Attribute.TOKEN]),
        private=bool(priv[Attribute.PRIVATE]),
        sign=bool(priv[Attribute.SIGN]),
        decrypt=bool(priv[Attribute.DECRYPT]),
    )
