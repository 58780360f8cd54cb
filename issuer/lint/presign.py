"""ARCHITECTURE §5 step 3: build once, lint-sign, fast lint, sign, verify.

The issuance cycle calls :func:`build_and_lint`, then signs with the HSM key
through the returned :class:`SignableTbs` and verifies that signature over the
linted bytes with the issuing CA certificate's public key, so the bytes the
HSM signed are the bytes that were linted, signed by the issuing CA's key::

    tbs, linted = build_and_lint(attrs, key, serial, policy, ca_cert, now)
    signed = tbs.sign(hsm_key, signature_hash(policy))
    tbs.verify(signed, ca_cert.public_key(), signature_hash(policy))

The TBSCertificate is encoded once (:func:`issuer.profile.der.build_tbs_der`);
the lint key and the HSM key each sign those very bytes and the Certificate
around them is assembled by hand. A second ``CertificateBuilder`` build and
encode for the HSM signature cost more than the signature itself (issue 4).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes

from issuer.keys import PublicKey
from issuer.lint.fast import Expected, fast_lint
from issuer.lint.findings import LintError
from issuer.lint.lintkey import (
    LintKey,
    lint_key_for,
    load_assembled,
    sign_tbs_der,
    verify_tbs_signature,
)
from issuer.profile import VerifiedAttributes, signature_hash
from issuer.profile.der import build_tbs_der, tbs_template
from policies import Policy


@dataclass(frozen=True)
class SignableTbs:
    """The linted TBSCertificate DER; :meth:`sign` signs exactly these bytes."""

    tbs_der: bytes
    signature_algorithm: bytes
    """The AlgorithmIdentifier DER inside the TBS (and outside, after signing)."""

    def sign(self, private_key: LintKey, algorithm: hashes.HashAlgorithm) -> x509.Certificate:
        """Sign the TBS with ``private_key`` (the HSM key) and parse the result.

        ``ValueError`` (nothing signed) when the key type or hash would need a
        different signature AlgorithmIdentifier than the linted TBS names.
        """
        der = sign_tbs_der(self.tbs_der, private_key, algorithm, self.signature_algorithm)
        return load_assembled(der, self.tbs_der)

    def verify(
        self,
        signed: x509.Certificate,
        issuer_public_key: PublicKeyTypes,
        algorithm: hashes.HashAlgorithm,
    ) -> None:
        """:class:`SignatureInvalid` unless ``signed``'s signature, over exactly these linted
        bytes, verifies under ``issuer_public_key``: a certificate over another TBS or
        signed by another key fails here, before anything is stored."""
        verify_tbs_signature(self.tbs_der, signed.signature, issuer_public_key, algorithm)


_LINT_KEYS: dict[int, tuple[x509.Certificate, LintKey]] = {}


def _lint_key(issuer_cert: x509.Certificate) -> LintKey:
    """:func:`lint_key_for` the CA's key, without parsing that key per certificate.

    Keyed by the certificate object's identity (held, so the id stays its own).
    """
    hit = _LINT_KEYS.get(id(issuer_cert))
    if hit is not None and hit[0] is issuer_cert:
        return hit[1]
    key = lint_key_for(issuer_cert.public_key())
    if len(_LINT_KEYS) >= 32:
        _LINT_KEYS.clear()
    _LINT_KEYS[id(issuer_cert)] = (issuer_cert, key)
    return key


def build_and_lint(
    attrs: VerifiedAttributes,
    public_key: PublicKey,
    serial: int,
    policy: Policy,
    issuer_cert: x509.Certificate,
    now: dt.datetime,
) -> tuple[SignableTbs, x509.Certificate]:
    """The TBS to sign and its lint-signed certificate; :class:`LintError` if any
    fast check fails (nothing must then be signed)."""
    tbs = build_tbs_der(attrs, public_key, serial, policy, issuer_cert, now)
    algorithm_id = tbs_template(policy, issuer_cert).signature_algorithm
    key = _lint_key(issuer_cert)
    linted = load_assembled(sign_tbs_der(tbs, key, signature_hash(policy), algorithm_id), tbs)
    expected = Expected(
        attrs=attrs,
        public_key=public_key,
        serial=serial,
        policy=policy,
        issuer_cert=issuer_cert,
        now=now,
    )
    findings = fast_lint(linted, expected)
    if findings:
        raise LintError(findings, f"certificate serial {serial:x}")
    return SignableTbs(tbs, algorithm_id), linted
