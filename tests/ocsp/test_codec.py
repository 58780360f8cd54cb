"""The fast request reader agrees with asn1crypto on every request it accepts."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import core

from ocsp import codec
from ocsp.model import REASON_CODES
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
    nonce = make_request(pki.issuing_pem, "-serial 0x1234", nonce=True, out=tmp_path / "n")
    fast = codec._parse_simple(nonce)
    assert fast is not None and fast.nonce_ext_value is not None  # a nonce flood stays cheap
    assert fast == codec._parse_asn1(nonce)


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


def _asn1crypto_response(
    signer: codec.ResponseSigner,
    ca_cert: bytes,
    singles: list[codec.SingleSpec],
    produced_at: datetime,
    nonce: bytes | None,
    signature: bytes,
) -> bytes:
    """The same response encoded by asn1crypto's object model (the reference)."""
    from asn1crypto import ocsp as asn1_ocsp
    from asn1crypto import x509 as asn1_x509

    responses = []
    for s in singles:
        if s.status.state == "good":
            status = asn1_ocsp.CertStatus(name="good", value=core.Null())
        elif s.status.state == "unknown":
            status = asn1_ocsp.CertStatus(name="unknown", value=core.Null())
        else:
            info: dict[str, object] = {"revocation_time": s.status.revoked_at}
            if s.status.reason not in (None, "unspecified"):
                info["revocation_reason"] = REASON_CODES[s.status.reason]
            status = asn1_ocsp.CertStatus(name="revoked", value=asn1_ocsp.RevokedInfo(info))
        responses.append(
            {
                "cert_id": asn1_ocsp.CertId.load(s.cert_id_der),
                "cert_status": status,
                "this_update": s.this_update,
                "next_update": s.next_update,
            }
        )
    tbs: dict[str, object] = {
        "responder_id": asn1_ocsp.ResponderId.load(signer._responder_id),
        "produced_at": produced_at,
        "responses": responses,
    }
    if nonce is not None:
        tbs["response_extensions"] = [
            {"extn_id": "nonce", "extn_value": core.OctetString.load(nonce)}
        ]
    basic = asn1_ocsp.BasicOCSPResponse(
        {
            "tbs_response_data": tbs,
            "signature_algorithm": {"algorithm": signer._alg_name},
            "signature": signature,
            "certs": [asn1_x509.Certificate.load(ca_cert)],
        }
    )
    return bytes(
        asn1_ocsp.OCSPResponse(
            {
                "response_status": "successful",
                "response_bytes": {"response_type": "basic_ocsp_response", "response": basic},
            }
        ).dump()
    )


_CA_START = datetime(2026, 1, 1, tzinfo=UTC)


def _self_signed_ca(common_name: str, curve: Any, digest: Any, *, serial: int) -> tuple[Any, Any]:
    """(EC key, self-signed certificate valid ten years from ``_CA_START``): a test issuer."""
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(curve)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(_CA_START)
        .not_valid_after(_CA_START + timedelta(days=3650))
        .sign(key, digest)
    )
    return key, cert


def test_response_encoding_is_asn1crypto_byte_for_byte() -> None:
    """ResponseSigner.build (and the CertIDs of make_cert_id) equal asn1crypto's DER for
    every status, one to three SingleResponses, serials of 1 to 20 octets, with and
    without a nonce, instants on both sides of 2050."""
    from asn1crypto import ocsp as asn1_ocsp
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    from ocsp.issuers import IssuingCa
    from ocsp.model import CertStatus

    start = _CA_START
    key, cert = _self_signed_ca("codec test CA", ec.SECP256R1(), hashes.SHA256(), serial=7)
    cert_der = cert.public_bytes(serialization.Encoding.DER)
    ca = IssuingCa.from_certificate(cert)
    signer = codec.ResponseSigner(certificate=cert, key=key)
    rng = random.Random(5)
    statuses = [
        CertStatus.good(),
        CertStatus(state="unknown"),
        CertStatus(state="revoked", revoked_at=start + timedelta(seconds=5)),
        CertStatus(state="revoked", revoked_at=start, reason="unspecified"),
        CertStatus(state="revoked", revoked_at=start, reason="keyCompromise"),
    ]
    for case in range(60):
        serial = rng.randrange(1, 2 ** rng.choice((8, 64, 127, 159, 160)))
        produced = datetime(rng.choice((2026, 2049, 2050, 2099)), 3, 4, 5, 6, 7, tzinfo=UTC)
        singles = [
            codec.SingleSpec(
                cert_id_der=codec.make_cert_id(ca, alg, serial),
                status=statuses[(case + i) % len(statuses)],
                this_update=produced,
                next_update=produced + timedelta(days=4, seconds=i),
            )
            for i, alg in enumerate(("sha1", "sha256", "sha512")[: 1 + case % 3])
        ]
        nonce = bytes(core.OctetString(rng.randbytes(16)).dump()) if case % 2 else None
        ours = codec.ResponseSigner.build(
            signer, singles, produced_at=produced, nonce_ext_value=nonce
        )
        basic = asn1_ocsp.OCSPResponse.load(ours).basic_ocsp_response
        signature = bytes(basic["signature"].native)
        for s, alg in zip(singles, ("sha1", "sha256", "sha512"), strict=False):
            reference_id = asn1_ocsp.CertId(
                {
                    "hash_algorithm": {"algorithm": alg, "parameters": core.Null()},
                    "issuer_name_hash": ca.name_hashes[alg],
                    "issuer_key_hash": ca.key_hashes[alg],
                    "serial_number": serial,
                }
            )
            assert s.cert_id_der == bytes(reference_id.dump())
        assert ours == _asn1crypto_response(signer, cert_der, singles, produced, nonce, signature)


def test_good_template_is_build_and_asn1crypto_byte_for_byte() -> None:
    """ResponseSigner.build_good (the pre-signed answer of a new certificate) equals build()
    of the same good singles and asn1crypto's encoding, for serials of 1 to 20 octets and
    instants on both sides of 2050 (a deterministic stand-in signs, so bytes compare)."""
    import hashlib

    from asn1crypto import ocsp as asn1_ocsp
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    from ocsp.issuers import PRESIGNED_ALGORITHMS, IssuingCa
    from ocsp.model import CertStatus

    key, cert = _self_signed_ca("template test CA", ec.SECP384R1(), hashes.SHA384(), serial=9)
    ca = IssuingCa.from_certificate(cert)
    signer = codec.ResponseSigner(certificate=cert, key=key)
    signer._sign = lambda data: b"\x30\x06\x02\x01\x01\x02\x01" + hashlib.sha1(data).digest()[:1]  # type: ignore[method-assign]
    rng = random.Random(7)
    for case in range(40):
        serial = rng.randrange(1, 2 ** rng.choice((8, 64, 159, 160)))
        at = datetime(rng.choice((2026, 2049, 2050)), 12, 31, 23, 59, 58, tzinfo=UTC)
        until = at + timedelta(days=4, seconds=case)
        algorithms = PRESIGNED_ALGORITHMS if case % 2 else ("sha256",)
        ours = signer.build_good(ca, algorithms, serial, at=at, next_update=until)
        singles = [
            codec.SingleSpec(
                cert_id_der=codec.make_cert_id(ca, alg, serial),
                status=CertStatus.good(),
                this_update=at,
                next_update=until,
            )
            for alg in algorithms
        ]
        assert ours == signer.build(singles, produced_at=at)
        signature = bytes(asn1_ocsp.OCSPResponse.load(ours).basic_ocsp_response["signature"].native)
        cert_der = cert.public_bytes(serialization.Encoding.DER)
        assert ours == _asn1crypto_response(signer, cert_der, singles, at, None, signature)
