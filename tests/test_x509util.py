"""``key_usage`` sets exactly the bits it is given and refuses a misspelt one."""

from __future__ import annotations

import pytest

from issuer.x509util import KEY_USAGE_BITS, key_usage


def test_only_named_bits_are_set() -> None:
    ku = key_usage("key_cert_sign", "crl_sign")
    assert ku.key_cert_sign and ku.crl_sign
    assert not any(getattr(ku, b) for b in KEY_USAGE_BITS[:5])


def test_a_misspelt_bit_is_refused() -> None:
    with pytest.raises(ValueError, match="digitalSignature"):
        key_usage("digitalSignature")
