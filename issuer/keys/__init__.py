"""Weak-key checks for subscriber (phone) public keys.

The engine certifies a key only after it passed every check here: the key
type and size the policy allows, a sane RSA exponent, no small factors, no
Fermat-factorable modulus, no ROCA fingerprint, and an EC point that lies on
a supported curve. A key already certified for another person is refused by
the issuance cycle, which queries its store by :func:`spki_sha256`.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes

from issuer.keys.roca import is_roca_vulnerable
from policies import KeyPolicy

PublicKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey
"""The public key types a mobile ID can carry."""

__all__ = [
    "PublicKey",
    "WeakKeyError",
    "check_public_key",
    "is_roca_vulnerable",
    "key_kind",
    "spki_der",
    "spki_sha256",
]


class WeakKeyError(ValueError):
    """A public key the policy does not allow or that is known to be weak.

    ``reason`` is a stable machine-readable code (``unsupported-type``,
    ``rsa-too-small``, ``rsa-exponent``, ``roca``, ...).
    """

    def __init__(self, reason: str, got: str, expected: str) -> None:
        self.reason = reason
        super().__init__(
            f"public key refused ({reason}): got {got}; expected {expected}. "
            "Generate a new key pair in the phone's key store and send a new CSR."
        )


@dataclass(frozen=True, kw_only=True)
class _Curve:
    kind: str
    p: int
    a: int
    b: int


# SEC 2 v2 §2.4.2 (secp256r1) and §2.5.1 (secp384r1).
_CURVES: dict[str, _Curve] = {
    "secp256r1": _Curve(
        kind="ec-p256",
        p=0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF,
        a=0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFC,
        b=0x5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B,
    ),
    "secp384r1": _Curve(
        kind="ec-p384",
        p=int(
            "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFE"
            "FFFFFFFF0000000000000000FFFFFFFF",
            16,
        ),
        a=int(
            "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFE"
            "FFFFFFFF0000000000000000FFFFFFFC",
            16,
        ),
        b=int(
            "B3312FA7E23EE7E4988E056BE3F82D19181D9C6EFE8141120314088F5013875A"
            "C656398D8A2ED19D2A85C8EDD3EC2AEF",
            16,
        ),
    ),
}

# Boulder's goodkey checks divisibility by the primes below 752.
_SMALL_PRIMES: tuple[int, ...] = tuple(
    n for n in range(3, 752, 2) if all(n % d for d in range(3, math.isqrt(n) + 1, 2))
)
_SMALL_PRIMES_PRODUCT = math.prod(_SMALL_PRIMES)
_FERMAT_ROUNDS = 100


def spki_der(public_key: PublicKeyTypes) -> bytes:
    """The DER SubjectPublicKeyInfo of ``public_key`` (RFC 5280 §4.1.2.7)."""
    return public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def spki_sha256(public_key: PublicKeyTypes) -> str:
    """Hex SHA-256 of the DER SubjectPublicKeyInfo (RFC 5280 §4.1.2.7).

    The issuance cycle stores it per certificate and refuses a key already
    certified for another person, so one phone key never speaks for two.
    """
    return hashlib.sha256(spki_der(public_key)).hexdigest()


def key_kind(public_key: PublicKeyTypes) -> str:
    """The policy name of a key's kind: ``ec-p256``, ``ec-p384``, ``rsa``."""
    if isinstance(public_key, rsa.RSAPublicKey):
        return "rsa"
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        curve = _CURVES.get(public_key.curve.name)
        return curve.kind if curve else f"ec-{public_key.curve.name}"
    return type(public_key).__name__


def check_public_key(public_key: PublicKeyTypes, rules: KeyPolicy) -> PublicKey:
    """Refuse a key the policy does not allow or that is weak; return it typed.

    Step 1 checks the phone's key and the fast lint checks it again before signing.
    """
    kind = key_kind(public_key)
    if kind not in rules.allowed:
        raise WeakKeyError("unsupported-type", kind, f"one of {list(rules.allowed)} (policy)")
    if isinstance(public_key, rsa.RSAPublicKey):
        _check_rsa(public_key, rules)
        return public_key
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        _check_ec(public_key)
        return public_key
    raise WeakKeyError("unsupported-type", kind, f"one of {list(rules.allowed)}")


def _check_rsa(key: rsa.RSAPublicKey, rules: KeyPolicy) -> None:
    numbers = key.public_numbers()
    n, e = numbers.n, numbers.e
    if not rules.rsa_min_bits <= key.key_size <= rules.rsa_max_bits:
        raise WeakKeyError(
            "rsa-size",
            f"{key.key_size} bits",
            f"{rules.rsa_min_bits}..{rules.rsa_max_bits} bits (policy keys.rsa_*_bits)",
        )
    # FIPS 186-5 §A.1.1 / NIST SP 800-89 §5.3.3: odd e, 2^16 < e < 2^256.
    if e % 2 == 0 or not 65537 <= e < 2**256:
        raise WeakKeyError("rsa-exponent", f"e={e}", "an odd exponent 65537 <= e < 2^256")
    if n % 2 == 0 or math.gcd(n, _SMALL_PRIMES_PRODUCT) != 1:
        raise WeakKeyError(
            "rsa-small-factor", "a modulus with a factor below 752", "a product of two big primes"
        )
    if is_roca_vulnerable(n):
        raise WeakKeyError(
            "roca", "a modulus with the Infineon RSALib fingerprint", "a key not from RSALib"
        )
    if _fermat_factorable(n):
        raise WeakKeyError(
            "rsa-fermat", "a modulus whose primes are too close", "independently drawn primes"
        )


def _fermat_factorable(n: int) -> bool:
    """Fermat's method for a few rounds: finds p, q with |p - q| tiny.

    FIPS 186-5 §A.1.3 requires |p - q| > 2^(nlen/2 - 100); Boulder's goodkey
    runs the same 100-round check.
    """
    a = math.isqrt(n)
    if a * a < n:
        a += 1
    for _ in range(_FERMAT_ROUNDS):
        b2 = a * a - n
        b = math.isqrt(b2)
        if b * b == b2:
            return True
        a += 1
    return False


def _check_ec(key: ec.EllipticCurvePublicKey) -> None:
    """Check the curve is supported and the point lies on it (SEC 1 §3.2.2.1)."""
    curve = _CURVES.get(key.curve.name)
    if curve is None:
        raise WeakKeyError("ec-curve", key.curve.name, "P-256 or P-384")
    numbers = key.public_numbers()
    x, y = numbers.x, numbers.y
    if not (0 <= x < curve.p and 0 <= y < curve.p):
        raise WeakKeyError("ec-point", "coordinates outside the field", "0 <= x, y < p")
    if (y * y - (x * x * x + curve.a * x + curve.b)) % curve.p != 0:
        raise WeakKeyError("ec-point", "a point not on the curve", f"a point on {key.curve.name}")
