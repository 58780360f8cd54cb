"""Mangled input is refused with a UziError (a code), never with another exception."""

from __future__ import annotations

import random

import pytest

from issuer.uzi.checks import inspect_certificate
from issuer.uzi.errors import UziError
from issuer.uzi.validate import ChainValidator, RevocationMode
from issuer.uzi.verify import UziVerifier
from tests.uzi.conftest import NOW, World


def _mutations(data: bytes, count: int, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    out: list[bytes] = []
    for i in range(count):
        buf = bytearray(data)
        if i % 3 == 0:
            del buf[rng.randrange(len(buf)) :]
        else:
            for _ in range(rng.randint(1, 4)):
                # XOR with a non-zero byte: every flip really changes the byte (a plain
                # random byte equals the old one 1 time in 256, leaving the certificate intact).
                buf[rng.randrange(len(buf))] ^= rng.randrange(1, 256)
        assert bytes(buf) != data
        out.append(bytes(buf))
    return out


@pytest.mark.filterwarnings("ignore::cryptography.utils.CryptographyDeprecationWarning")
def test_mangled_card_certificates_are_refused_with_a_code(uzi: World) -> None:
    validator = ChainValidator()
    good = uzi.app.card.der()
    refused = 0
    for data in _mutations(good, 300, seed=5280):
        try:
            result = inspect_certificate(
                data,
                chain=uzi.app.chain()[1:],
                trust=str(uzi.trust_dir),
                at=NOW,
                revocation=RevocationMode.OFF,
                validator=validator,
            )
        except UziError as exc:
            assert exc.code.startswith("ZID-11")
            refused += 1
            continue
        if result.error is not None:
            refused += 1
        else:  # a flip in an unsigned part (the outer signature bits) cannot pass
            raise AssertionError(f"mangled certificate accepted: {data.hex()[:80]}")
    assert refused == 300


def test_mangled_chain_in_verify_card(uzi: World, make_verifier: object) -> None:
    verifier: UziVerifier = make_verifier()  # type: ignore[operator]
    chain = uzi.app.chain()
    for data in _mutations(chain[1], 60, seed=3279):
        challenge = verifier.create_challenge(portal="p")
        try:
            verifier.verify_card(
                challenge.challenge_id,
                [chain[0], data, chain[2]],
                uzi.app.sign(challenge.to_be_signed),
                portal="p",
                purpose="registration",
            )
        except UziError:
            continue
        # A mangled intermediate the path does not need is harmless: the trust set has it.
