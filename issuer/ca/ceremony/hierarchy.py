"""The hierarchy's certificates: built, linted, signed by the token, checked, and recorded.

Shared by the ceremony run and the external-root import, which make the same OCSP
responder and audit keys and write the same files and record.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from issuer.ca.ceremony import rollback
from issuer.ca.ceremony.rollback import CeremonyToken, Out
from issuer.ca.config import CeremonyConfig
from issuer.ca.errors import (
    CeremonyError,
    ImportRefused,
    KeyMismatch,
    LintFailed,
)
from issuer.ca.lint import lint_certificate, lint_chain_pair
from issuer.ca.material import (
    AUDIT_PUBLIC_KEY_PEM,
    INTERMEDIATES_PEM,
    ISSUING_CA_PEM,
    OCSP_RESPONDER_PEM,
    RECORD_FORMAT,
    ROOT_PEM,
    STATE_COMPLETE,
    CaMaterial,
)
from issuer.ca.profiles import (
    PublicKey,
    SigningKey,
    Validity,
    issuing_ca_profile,
    ocsp_responder_profile,
    same_public_key,
    signature_hash,
)

#: The audit checkpoint key is always EC P-256 (the audit log's signature format fixes it).
AUDIT_KEY_SPEC = "ec-p256"


def utcnow() -> datetime:
    return datetime.now(UTC)


def der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(Encoding.DER)


def pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(Encoding.PEM)


def spki_sha256(key: PublicKey) -> str:
    return hashlib.sha256(
        key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    ).hexdigest()


def throwaway_like(key: SigningKey) -> SigningKey:
    """A software key whose signatures carry the same AlgorithmIdentifier as ``key``'s."""
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return ec.generate_private_key(key.curve)
    # sha256WithRSAEncryption has NULL parameters whatever the modulus size (RFC 4055 §5).
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def sign_linted(
    builder: x509.CertificateBuilder,
    *,
    issuer_key: SigningKey,
    issuer_cert: x509.Certificate | None,
    subject_key: PublicKey,
    what: str,
) -> x509.Certificate:
    """Lint the exact to-be-signed bytes, then have the token sign those bytes.

    ``issuer_cert`` None means self-signed. Raises :class:`LintFailed` on any
    pkilint finding at WARNING or above, :class:`KeyMismatch` when the
    certificate does not carry ``subject_key``.
    """
    algorithm = signature_hash(issuer_key.public_key())
    precert = builder.sign(throwaway_like(issuer_key), algorithm)
    findings = lint_certificate(der(precert))
    if findings:
        raise LintFailed(what, findings)
    cert = builder.sign(issuer_key, algorithm)
    if cert.tbs_certificate_bytes != precert.tbs_certificate_bytes:
        raise CeremonyError(
            f"the {what} certificate the token signed differs from the linted one; "
            "expected identical TBSCertificate bytes. Report this as a bug."
        )
    _check_signed(cert, issuer_cert or cert, subject_key, what)
    return cert


def _check_signed(
    cert: x509.Certificate, issuer: x509.Certificate, subject_key: PublicKey, what: str
) -> None:
    try:
        cert.verify_directly_issued_by(issuer)
    except (InvalidSignature, ValueError, TypeError) as exc:
        raise CeremonyError(
            f"the {what} certificate does not verify under its issuer's key "
            f"({type(exc).__name__}: {exc}); expected a valid signature from the token"
        ) from None
    if not same_public_key(cert, subject_key):
        raise KeyMismatch(
            f"the {what} certificate carries public key sha256:"
            f"{spki_sha256(cert_key(cert))}, expected the token key's sha256:"
            f"{spki_sha256(subject_key)}"
        )
    if issuer is not cert:
        findings = lint_chain_pair(der(issuer), der(cert))
        if findings:
            raise LintFailed(f"{what} (chain to its issuer)", findings)


def cert_key(cert: x509.Certificate) -> PublicKey:
    key = cert.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey):
        raise ImportRefused(
            f"certificate {cert.subject.rfc4514_string()} has a {type(key).__name__}, "
            "expected an EC or RSA public key"
        )
    return key


def cert_entry(
    cert: x509.Certificate, file: str, key_label: str | None, spec: str | None
) -> dict[str, Any]:
    return {
        "certificate": file,
        "subject": cert.subject.rfc4514_string(),
        "serial": f"{cert.serial_number:x}",
        "sha256": cert.fingerprint(hashes.SHA256()).hex(),
        "not_before": cert.not_valid_before_utc.isoformat(),
        "not_after": cert.not_valid_after_utc.isoformat(),
        "key_label": key_label,
        "key_spec": spec,
        "spki_sha256": spki_sha256(cert_key(cert)),
    }


def record_json(record: dict[str, Any]) -> bytes:
    return (json.dumps(record, indent=2, sort_keys=False) + "\n").encode("utf-8")


def issuing_builder(
    config: CeremonyConfig, public_key: PublicKey, root: x509.Certificate, now: datetime
) -> x509.CertificateBuilder:
    ica = config.issuing_ca
    return issuing_ca_profile(
        subject=ica.subject,
        public_key=public_key,
        issuer=root,
        validity=Validity.starting(now, ica.validity_days).clipped_to(root),
        policy_oids=ica.policy_oids,
        ca_issuers_url=ica.ca_issuers_url,
        ocsp_url=ica.ocsp_url,
        crl_urls=ica.crl_urls,
    )


def make_ocsp_and_audit(
    config: CeremonyConfig,
    token: CeremonyToken,
    journal: rollback.Journal,
    issuing: x509.Certificate,
    issuing_key: SigningKey,
    now: datetime,
) -> tuple[x509.Certificate, PublicKey]:
    oc = config.ocsp_responder
    with journal.running(f"generate OCSP responder key {oc.key_label!r} ({oc.key_spec})"):
        ocsp_key = rollback.generate(token, oc.key_label, oc.key_spec, journal)
    with journal.running("sign the OCSP responder certificate with the issuing CA key"):
        ocsp_pub = ocsp_key.public_key()
        ocsp_cert = sign_linted(
            ocsp_responder_profile(
                subject=oc.subject,
                public_key=ocsp_pub,
                issuer=issuing,
                validity=Validity.starting(now, oc.validity_days),
            ),
            issuer_key=issuing_key,
            issuer_cert=issuing,
            subject_key=ocsp_pub,
            what="OCSP responder",
        )
    with journal.running(f"generate audit checkpoint key {config.audit.key_label!r} (ec-p256)"):
        audit_key = rollback.generate(token, config.audit.key_label, AUDIT_KEY_SPEC, journal)
    return ocsp_cert, audit_key.public_key()


def final_files(config: CeremonyConfig) -> list[Path]:
    d = config.ca_dir
    return [
        d / ROOT_PEM,
        d / INTERMEDIATES_PEM,
        d / ISSUING_CA_PEM,
        d / OCSP_RESPONDER_PEM,
        d / AUDIT_PUBLIC_KEY_PEM,
    ]


def write_hierarchy(
    config: CeremonyConfig,
    journal: rollback.Journal,
    root: x509.Certificate,
    issuing: x509.Certificate,
    ocsp_cert: x509.Certificate,
    audit_pub: PublicKey,
) -> list[Path]:
    d = config.ca_dir
    written = []
    for name, data in (
        (ROOT_PEM, pem(root)),
        (ISSUING_CA_PEM, pem(issuing)),
        (OCSP_RESPONDER_PEM, pem(ocsp_cert)),
        (
            AUDIT_PUBLIC_KEY_PEM,
            audit_pub.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo),
        ),
    ):
        with journal.running(f"write {d / name}"):
            rollback.write_new(d / name, data, journal)
            written.append(d / name)
    return written


def complete_record(
    config: CeremonyConfig,
    *,
    created: str,
    now: datetime,
    root: x509.Certificate,
    issuing: x509.Certificate,
    ocsp_cert: x509.Certificate,
    audit_pub: PublicKey,
    events: list[dict[str, Any]],
) -> dict[str, Any]:
    return {
        "format": RECORD_FORMAT,
        "state": STATE_COMPLETE,
        "created": created,
        "updated": now.isoformat(),
        "hsm": {"module": config.hsm.module, "token": config.hsm.token},
        "root": {
            "mode": config.root.mode.value,
            **cert_entry(root, ROOT_PEM, config.root.key_label, config.root.key_spec),
        },
        "issuing_ca": cert_entry(
            issuing, ISSUING_CA_PEM, config.issuing_ca.key_label, config.issuing_ca.key_spec
        ),
        "ocsp_responder": cert_entry(
            ocsp_cert,
            OCSP_RESPONDER_PEM,
            config.ocsp_responder.key_label,
            config.ocsp_responder.key_spec,
        ),
        "audit": {
            "key_label": config.audit.key_label,
            "key_spec": AUDIT_KEY_SPEC,
            "public_key": AUDIT_PUBLIC_KEY_PEM,
            "spki_sha256": spki_sha256(audit_pub),
        },
        "events": events,
    }


def print_summary(out: Out, material: CaMaterial) -> None:
    out("Ceremony complete:")
    for what, cert in (
        ("root", material.root),
        ("issuing CA", material.issuing_ca),
        ("OCSP responder", material.ocsp_responder),
    ):
        out(
            f"  {what}: {cert.subject.rfc4514_string()} serial {cert.serial_number:x} "
            f"sha256 {cert.fingerprint(hashes.SHA256()).hex()} "
            f"valid until {cert.not_valid_after_utc.isoformat()}"
        )
    out(f"  audit checkpoint public key: sha256 {spki_sha256(material.audit_public_key)}")
