"""Hostile inputs that once crashed a parser (issue 16, item 7), and the refusal each must get.

The ``.bin`` files under ``tests/fixtures/regressions/`` are copies of the
inputs the attack found (their ``index.jsonl`` says where each one crashed);
the RSA-PSS CSR without parameters had no file and is made here. Each kind of
defect has its own code; a CSR refusal also counts as a failed attempt on the
registration token.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from asn1crypto import algos
from asn1crypto import csr as asn1_csr
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

REGRESSIONS: Final = Path(__file__).parent / "fixtures" / "regressions"

CSR_REFUSALS: Final[dict[str, tuple[str, str]]] = {
    # file: (CsrError reason, ZID code)
    "cd7be83bc0659eb6.bin": ("version", "ZID-1260"),  # version INTEGER 32
    "0b18ad3b6bee69f7.bin": ("signature-algorithm", "ZID-1261"),  # RSA-PSS, unknown hash OID
}
PSS_WITHOUT_PARAMETERS: Final = ("signature-parameters", "ZID-1262")

CARD_REFUSALS: Final[dict[str, str]] = {
    "43d857165b4488b4.bin": "ZID-1160",  # basicConstraints twice
    "6f958d85aa3c726e.bin": "ZID-1161",  # a subject attribute as BIT STRING
    "56a874f632c68012.bin": "ZID-1162",  # x400Address in the subjectAltName
}


def csr_inputs() -> dict[str, bytes]:
    """Every CSR regression file by name (a test fails when one lacks an expected code)."""
    return {p.name: p.read_bytes() for p in sorted((REGRESSIONS / "csr").glob("*.bin"))}


def card_inputs() -> dict[str, bytes]:
    """Every card-certificate regression file by name."""
    return {p.name: p.read_bytes() for p in sorted((REGRESSIONS / "uzi-card").glob("*.bin"))}


def rsa_pss_csr_without_parameters() -> bytes:
    """A well-signed RSA-PSS CSR whose signatureAlgorithm then loses its parameters.

    RFC 4055 section 3.1: RSASSA-PSS in a signature AlgorithmIdentifier must
    carry its parameters (hash, MGF, salt length); without them there is
    nothing to verify the signature with.
    """
    key = rsa.generate_private_key(65537, 2048)
    signed = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "phone")]))
        .sign(
            key,
            hashes.SHA256(),
            rsa_padding=padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32),
        )
    )
    request = asn1_csr.CertificationRequest.load(signed.public_bytes(serialization.Encoding.DER))
    stripped = asn1_csr.CertificationRequest(
        {
            "certification_request_info": request["certification_request_info"],
            "signature_algorithm": algos.SignedDigestAlgorithm({"algorithm": "rsassa_pss"}),
            "signature": request["signature"],
        }
    )
    der: bytes = stripped.dump(force=True)
    return der
