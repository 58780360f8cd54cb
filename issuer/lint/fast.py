"""The certificate lint: every check against one whole certificate.

pkilint checks the whole profile once per policy version
(:func:`issuer.lint.profile.lint_profile`); what differs between two
certificates of one profile is the subject names, the SAN string, the key,
the validity and the serial. The checks cover those *varying* fields at least
as strictly as pkilint does (string types, RFC 5280 upper bounds, character
sets, no empty values) and pin every other field to exactly what the profile
says. They run where a whole certificate is at hand: at profile activation
(on the samples pkilint lints), in tests and in benchmarks. The issuance cycle
checks each certificate's inputs instead (:mod:`issuer.lint.inputs`, which
says which rule answers for which check here).
"""

from __future__ import annotations

from asn1crypto import x509 as ax509
from cryptography import x509

from issuer.lint.cert import Cert, Check, Expected, ProfileShape, finding, profile_shape
from issuer.lint.checks_ext import EXTENSION_CHECKS
from issuer.lint.checks_tbs import TBS_CHECKS, raw_subject_finding
from issuer.lint.findings import Finding

__all__ = ["CHECKS", "fast_lint"]

CHECKS: tuple[Check, ...] = TBS_CHECKS + EXTENSION_CHECKS
"""Every certificate check, in the order findings are reported."""


def _undecodable(der: bytes, exc: Exception) -> Finding:
    """A finding for DER that ``cryptography`` refuses: name the broken rule
    when the TBS still reads as ASN.1, else report the decoding failure."""
    try:
        tbs_der = ax509.Certificate.load(der)["tbs_certificate"].dump()
        return raw_subject_finding(tbs_der)
    except (ValueError, TypeError, KeyError):
        return finding("decode", "RFC 5280 §4.1", f"not a DER certificate: {exc}")


def fast_lint(
    cert_or_der: x509.Certificate | bytes,
    expected: Expected,
    shape: ProfileShape | None = None,
) -> list[Finding]:
    """Run every check; an empty list means the certificate says what the profile and
    ``expected`` say.

    ``shape`` is ``profile_shape(expected.policy, expected.issuer_cert)`` when the
    caller holds it; else it is made here.
    """
    if isinstance(cert_or_der, bytes):
        try:
            loaded = x509.load_der_x509_certificate(cert_or_der)
        except x509.InvalidVersion as exc:
            return [
                finding("version_v3", "RFC 5280 §4.1.2.1", f"version {exc.parsed_version}; need v3")
            ]
        except ValueError as exc:
            return [_undecodable(cert_or_der, exc)]
    else:
        loaded = cert_or_der
    if shape is None:
        shape = profile_shape(expected.policy, expected.issuer_cert, usage=expected.usage)
    cert = Cert(loaded, shape)
    findings: list[Finding] = []
    for check in CHECKS:
        try:
            found = check(cert, expected)
        except (ValueError, x509.DuplicateExtension):
            # Content cryptography refuses to parse lazily (a bad string in the
            # subject); the check that owns the rule reports it by raw reading.
            continue
        if found is not None:
            findings.append(found)
    if not findings:
        try:
            cert.subject_attributes  # noqa: B018 -- the parse itself is the check
            cert.extensions  # noqa: B018
        except (ValueError, x509.DuplicateExtension) as exc:
            findings.append(finding("decode", "RFC 5280 §4.1", f"does not decode: {exc}"))
    return findings
