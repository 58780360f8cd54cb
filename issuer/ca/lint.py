"""pkilint, the reference RFC 5280 linter, run on the ceremony's certificates and the root's CRL.

A ceremony makes a handful of certificates that live for years, so each one
is linted in full -- the same validators as pkilint's ``lint_pkix_cert`` and
``lint_pkix_signer_signee_cert_chain`` commands -- and any finding at
WARNING or above stops the ceremony before the HSM signs.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pkilint import document, loader, pkix, validation
from pkilint.pkix import algorithm, certificate, crl, extension, key, name
from pkilint.pkix.certificate import certificate_extension, certificate_key
from pkilint.validation import ValidationFindingSeverity
from pyasn1_alt_modules import rfc5280  # type: ignore[import-untyped]

from issuer.lint.findings import Severity
from issuer.lint.pkix import at_or_above, pkilint_cert

#: Findings at this severity or worse (lower number) stop the ceremony.
THRESHOLD = ValidationFindingSeverity.WARNING


def _findings(results: Iterable[Any]) -> list[str]:
    out: list[str] = []
    for result in results:
        for desc in result.finding_descriptions:
            if desc.finding.severity <= THRESHOLD:
                out.append(f"{desc!r} @ {result.node.path} ({result.validator})")
    return out


def _load(der: bytes, doc_name: str | None = None, parent: Any = None) -> Any:
    return loader.RFC5280CertificateDocumentLoader().load_der_document(
        der, doc_name, doc_name, parent
    )


def lint_certificate(der: bytes) -> list[str]:
    """RFC 5280 findings at WARNING or above for one certificate (pkilint ``lint_pkix_cert``).

    The same validator the issuance path uses (:func:`issuer.lint.pkilint_cert`),
    so the CA certificates and the mobile-ID certificates are held to one rule set.
    """
    return [
        f"{finding.code}: {finding.message}"
        for finding in at_or_above(pkilint_cert(der), Severity(int(THRESHOLD)))
    ]


def lint_chain_pair(issuer_der: bytes, subject_der: bytes) -> list[str]:
    """Issuer/subject findings (pkilint ``lint_pkix_signer_signee_cert_chain``).

    Checks name chaining, AKI = issuer SKI, policy chaining and the subject's
    signature under the issuer's key.
    """
    decoders = validation.ValidatorContainer(
        validators=[
            pkix.create_attribute_decoder(name.ATTRIBUTE_TYPE_MAPPINGS),
            pkix.create_extension_decoder(extension.EXTENSION_MAPPINGS),
            pkix.create_signature_algorithm_identifier_decoder(
                algorithm.SIGNATURE_ALGORITHM_IDENTIFIER_MAPPINGS,
                path="certificate.tbsCertificate.signature",
            ),
            certificate.create_spki_decoder(
                key.SUBJECT_PUBLIC_KEY_ALGORITHM_IDENTIFIER_MAPPINGS,
                key.SUBJECT_KEY_PARAMETER_ALGORITHM_IDENTIFIER_MAPPINGS,
            ),
        ],
        path="certificate",
    )
    issuer_checks = validation.ValidatorContainer(
        validators=[
            name.IssuerSubjectNameBinaryEqualValidator(
                path="certificate.tbsCertificate.subject",
                subject_document_issuer_dn_path="subject:certificate.tbsCertificate.issuer",
            ),
            extension.IssuerSubjectKeyIdentifierBinaryEqualValidator(
                subject_auth_key_id_retriever=(
                    lambda n: document.get_document_by_name(n, "subject").get_extension_by_oid(
                        rfc5280.id_ce_authorityKeyIdentifier
                    )
                )
            ),
            certificate_extension.IssuerSubjectPolicyChainValidator(),
        ]
    )
    subject_checks = validation.ValidatorContainer(
        validators=[
            certificate_key.SubjectSignatureVerificationValidator(
                tbs_node_retriever=lambda n: n.navigate("^.tbsCertificate"),
                path="certificate.signature",
            )
        ]
    )
    docs: dict[str, Any] = {}
    issuer = _load(issuer_der, "issuer", docs)
    docs["issuer"] = issuer
    subject = _load(subject_der, "subject", docs)
    docs["subject"] = subject
    results = decoders.validate(issuer.root)
    results += decoders.validate(subject.root)
    results += issuer_checks.validate(issuer.root)
    results += subject_checks.validate(subject.root)
    return _findings(results)


def lint_crl(der: bytes) -> list[str]:
    """RFC 5280 findings at WARNING or above for a CRL (pkilint ``lint_crl -p PKIX``).

    The root's CRL (ARL) is held to the same rule set the tests hold the issuing
    CA's CRLs to (tests/ocsp/test_crl_lint.py).
    """
    validator = crl.create_pkix_crl_validator_container(
        [
            pkix.create_attribute_decoder(name.ATTRIBUTE_TYPE_MAPPINGS),
            pkix.create_extension_decoder(extension.EXTENSION_MAPPINGS),
        ],
        [
            crl.create_issuer_validator_container([]),
            crl.create_validity_validator_container([]),
            crl.create_extensions_validator_container([]),
        ],
    )
    doc = loader.RFC5280CertificateListDocumentLoader().load_der_document(der, "crl")
    return _findings(validator.validate(doc.root))
