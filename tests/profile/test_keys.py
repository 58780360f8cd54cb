"""Weak-key checks: every refusal reason with a key that has exactly that flaw."""

from __future__ import annotations

import math
import secrets
import subprocess

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from issuer.keys import WeakKeyError, check_public_key, is_roca_vulnerable, spki_sha256
from issuer.keys.roca import ROCA_GENERATOR, ROCA_PRIMES
from policies import Policy, load_policy
from policies.reader import DEFAULT_POLICY_PATH

_MR_BASES = (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37)


def _is_probable_prime(n: int) -> bool:
    """Miller-Rabin with fixed small bases plus random ones (test helper)."""
    if n < 2:
        return False
    for p in _MR_BASES:
        if n % p == 0:
            return n == p
    d, r = n - 1, 0
    while d % 2 == 0:
        d, r = d // 2, r + 1
    for a in (*_MR_BASES, *(secrets.randbelow(n - 3) + 2 for _ in range(8))):
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(r - 1):
            x = x * x % n
            if x == n - 1:
                break
        else:
            return False
    return True


def _roca_prime(bits: int) -> int:
    """A prime with RSALib's structure: p = k*M + (65537^a mod M)."""
    m = math.prod(ROCA_PRIMES)
    while True:
        a = secrets.randbelow(2**32)
        k = secrets.randbits(bits - m.bit_length()) | (1 << (bits - m.bit_length() - 1))
        p = k * m + pow(ROCA_GENERATOR, a, m)
        if p.bit_length() == bits and _is_probable_prime(p):
            return p


@pytest.fixture(scope="module")
def rsa_policy() -> Policy:
    text = DEFAULT_POLICY_PATH.read_text(encoding="utf-8")
    return load_policy(
        text.replace('allowed = ["ec-p256", "ec-p384"]', 'allowed = ["ec-p256", "ec-p384", "rsa"]')
    )


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy(DEFAULT_POLICY_PATH)


def _rsa(n: int, e: int = 65537) -> rsa.RSAPublicKey:
    return rsa.RSAPublicNumbers(e, n).public_key()


def _reason(key: object, policy: Policy) -> str:
    with pytest.raises(WeakKeyError) as caught:
        check_public_key(key, policy.keys)  # type: ignore[arg-type]
    assert "got" in str(caught.value) and "expected" in str(caught.value)
    return caught.value.reason


def test_roca_structured_modulus_is_detected(rsa_policy: Policy) -> None:
    p, q = _roca_prime(1024), _roca_prime(1024)
    n = p * q
    assert n.bit_length() in (2047, 2048)
    assert is_roca_vulnerable(n)
    if n.bit_length() == 2048:
        assert _reason(_rsa(n), rsa_policy) == "roca"


def test_roca_test_passes_ordinary_keys(rsa_policy: Policy) -> None:
    for _ in range(3):
        key = rsa.generate_private_key(65537, 2048).public_key()
        assert not is_roca_vulnerable(key.public_numbers().n)
        assert check_public_key(key, rsa_policy.keys) is key
    # Random odd moduli almost never carry the fingerprint (~2^-150 each).
    assert not any(is_roca_vulnerable(secrets.randbits(2048) | 1) for _ in range(2000))


def test_rsa_refused_when_policy_does_not_allow_it(policy: Policy) -> None:
    key = rsa.generate_private_key(65537, 2048).public_key()
    assert _reason(key, policy) == "unsupported-type"


def test_rsa_below_policy_minimum(rsa_policy: Policy) -> None:
    key = rsa.generate_private_key(65537, 1024).public_key()
    assert _reason(key, rsa_policy) == "rsa-size"


def test_rsa_small_exponent(rsa_policy: Policy) -> None:
    key = rsa.generate_private_key(65537, 2048).public_key()
    assert _reason(_rsa(key.public_numbers().n, 3), rsa_policy) == "rsa-exponent"


def test_rsa_huge_exponent(rsa_policy: Policy) -> None:
    key = rsa.generate_private_key(65537, 2048).public_key()
    assert _reason(_rsa(key.public_numbers().n, 2**256 + 1), rsa_policy) == "rsa-exponent"


def test_rsa_modulus_with_small_factor(rsa_policy: Policy) -> None:
    k = (2**2048 // 743) - 1
    k -= 1 - k % 2  # odd, so n stays odd
    n = 743 * k
    assert n.bit_length() == 2048
    assert _reason(_rsa(n), rsa_policy) == "rsa-small-factor"


def test_rsa_close_primes_fermat(rsa_policy: Policy) -> None:
    p = secrets.randbits(1024) | (3 << 1022) | 1  # top two bits: p*q has 2048 bits
    while not _is_probable_prime(p):
        p += 2
    q = p + 2
    while not _is_probable_prime(q):
        q += 2
    assert _reason(_rsa(p * q), rsa_policy) == "rsa-fermat"


@pytest.mark.parametrize("curve", [ec.SECP256K1(), ec.BrainpoolP256R1(), ec.SECP521R1()])
def test_unsupported_curve(curve: ec.EllipticCurve, policy: Policy) -> None:
    key = ec.generate_private_key(curve).public_key()
    assert _reason(key, policy) == "unsupported-type"


def test_p384_refused_when_policy_allows_only_p256() -> None:
    text = DEFAULT_POLICY_PATH.read_text(encoding="utf-8")
    only_p256 = load_policy(text.replace('["ec-p256", "ec-p384"]', '["ec-p256"]'))
    key = ec.generate_private_key(ec.SECP384R1()).public_key()
    assert _reason(key, only_p256) == "unsupported-type"


def test_ed25519_refused(policy: Policy) -> None:
    key = ed25519.Ed25519PrivateKey.generate().public_key()
    assert _reason(key, policy) == "unsupported-type"


@pytest.mark.parametrize("curve", [ec.SECP256R1(), ec.SECP384R1()])
def test_supported_ec_keys_pass(curve: ec.EllipticCurve, policy: Policy) -> None:
    key = ec.generate_private_key(curve).public_key()
    assert check_public_key(key, policy.keys) is key


def test_spki_sha256_matches_openssl() -> None:
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    out = subprocess.run(
        ["openssl", "dgst", "-sha256", "-r"], input=der, capture_output=True, check=True
    ).stdout.decode()
    assert spki_sha256(key) == out.split()[0]
    other = ec.generate_private_key(ec.SECP256R1()).public_key()
    assert spki_sha256(other) != spki_sha256(key)


def test_spki_der_is_the_keys_encoding_once() -> None:
    """spki_der returns the key's SubjectPublicKeyInfo and spki_sha256 hashes exactly
    those bytes."""
    import hashlib

    from issuer.keys import spki_der

    for key in (ec.generate_private_key(ec.SECP256R1()).public_key(), _rsa_key()):
        der = key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        assert spki_der(key) == der
        assert spki_sha256(key) == hashlib.sha256(der).hexdigest()


def test_a_remembered_pass_holds_only_for_the_same_rules() -> None:
    """A pass under one rules object says nothing about others: the same key is still
    refused under other rules, and a refusal does not stick."""
    from policies.schema import KeyPolicy

    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    allow = KeyPolicy(allowed=("ec-p256",), rsa_min_bits=2048, rsa_max_bits=4096)
    refuse = KeyPolicy(allowed=("ec-p384",), rsa_min_bits=2048, rsa_max_bits=4096)
    for _ in range(2):
        with pytest.raises(WeakKeyError, match="unsupported-type"):
            check_public_key(key, refuse)
        assert check_public_key(key, allow) is key
        assert check_public_key(key, allow) is key
    with pytest.raises(WeakKeyError, match="unsupported-type"):
        check_public_key(key, refuse)
    other = KeyPolicy(allowed=("ec-p256",), rsa_min_bits=2048, rsa_max_bits=4096)
    assert check_public_key(key, other) is key  # equal rules, checked again


def _rsa_key() -> rsa.RSAPublicKey:
    return rsa.generate_private_key(65537, 2048).public_key()
