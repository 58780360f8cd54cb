"""Small helpers for building X.509 values the same way everywhere."""

from __future__ import annotations

from typing import Final

from cryptography import x509

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
