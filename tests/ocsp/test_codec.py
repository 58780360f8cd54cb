"""The fast request reader agrees with asn1crypto on every request it accepts."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from ocsp import codec
from tests.ocsp.conftest import Pki
from tests.ocsp.helpers import make_request


def _requests(pki: Pki, tmp: Path) -> list[bytes]:
    made = []
    for digest in ("-sha1", "-sha256", "-sha384", "-sha512"):
        for nonce in (False, True):
            for targets in (
                ("-serial 0x1",),
                ("-serial 0x7fffffffffffffff00",),
                ("-serial 0x1", "-serial 0x2"),
            ):
                made.append(
                    make_request(
                        pki.issuing_pem, *targets, nonce=nonce, digest=digest, out=tmp / "r"
                    )
                )
    return made


def _mutations(data: bytes, rng: random.Random) -> list[bytes]:
    out = [data[:-1], data + b"\x00", data[:5], b"\x30\x81" + data[2:]]
    for _ in range(200):
        i = rng.randrange(len(data))
        out.append(data[:i] + bytes((rng.randrange(256),)) + data[i + 1 :])
    return out


def test_fast_reader_accepts_the_rfc5019_shape(pki: Pki, tmp_path: Path) -> None:
    simple = make_request(pki.issuing_pem, "-serial 0x1234", out=tmp_path / "r")
    assert codec._parse_simple(simple) is not None
    assert codec._parse_simple(simple) == codec._parse_asn1(simple)


def test_fast_reader_never_disagrees_with_asn1crypto(pki: Pki, tmp_path: Path) -> None:
    rng = random.Random(6960)
    checked = 0
    for request in _requests(pki, tmp_path):
        for data in (request, *_mutations(request, rng)):
            fast = codec._parse_simple(data)
            if fast is None:
                continue
            checked += 1
            try:
                slow = codec._parse_asn1(data)
            except codec.MalformedRequest:
                pytest.fail(f"fast reader accepted what asn1crypto refuses: {data.hex()}")
            assert fast == slow, data.hex()
    assert checked > 20
