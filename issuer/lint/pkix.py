"""Full RFC 5280 linting with pkilint, the reference linter (ARCHITECTURE §5).

pkilint costs milliseconds a certificate, so the issuance cycle runs it on a
sample certificate of each profile (policy version) at activation and relies
on :mod:`issuer.lint.inputs` per certificate; tests and the background
conformance scan run it on every certificate.
"""

from __future__ import annotations

import threading
from typing import Any

from pkilint import loader
from pkilint.pkix import certificate, extension, name

from issuer.lint.findings import Finding, Severity

_local = threading.local()


def _validator() -> Any:
    """pkilint's RFC 5280 certificate validator, as ``lint_pkix_cert`` builds it.

    Built once per thread: building it is costly and validators keep no
    per-document state, but pkilint does not promise thread safety.
    """
    validator = getattr(_local, "validator", None)
    if validator is None:
        validator = certificate.create_pkix_certificate_validator_container(
            certificate.create_decoding_validators(
                name.ATTRIBUTE_TYPE_MAPPINGS, extension.EXTENSION_MAPPINGS
            ),
            [
                certificate.create_issuer_validator_container([]),
                certificate.create_validity_validator_container(),
                certificate.create_subject_validator_container([]),
                certificate.create_extensions_validator_container([]),
                certificate.create_spki_validator_container([]),
            ],
        )
        _local.validator = validator
    return validator


def pkilint_cert(der: bytes) -> list[Finding]:
    """Every pkilint RFC 5280 finding for one DER certificate, any severity."""
    try:
        document = loader.RFC5280CertificateDocumentLoader().load_der_document(der, "certificate")
    except ValueError as exc:
        return [
            Finding(
                code="pkilint.decode",
                severity=Severity.FATAL,
                message=f"pkilint could not decode the certificate: {exc}",
                rule="RFC 5280 §4.1",
            )
        ]
    findings: list[Finding] = []
    for result in _validator().validate(document.root):
        for description in result.finding_descriptions:
            detail = description.message or description.finding.code
            findings.append(
                Finding(
                    code=description.finding.code,
                    severity=Severity(int(description.finding.severity)),
                    message=f"{result.node.path}: {detail}",
                    rule="pkilint pkix",
                )
            )
    return findings


def at_or_above(findings: list[Finding], threshold: Severity) -> list[Finding]:
    """The findings at ``threshold`` or worse (lower value = more severe)."""
    return [f for f in findings if f.severity <= threshold]
