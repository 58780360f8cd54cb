"""ARCHITECTURE §5 step 3: build once, lint-sign, lint the inputs, sign, verify.

The issuance cycle calls :meth:`Presigner.build_and_lint`, then signs with the HSM key
through the returned :class:`SignableTbs` and verifies that signature over the
linted bytes with the issuing CA certificate's public key, so the bytes the
HSM signed are the bytes that were linted, signed by the issuing CA's key::

    presigner = Presigner.for_profile(policy, ca_cert)  # once per cycle
    tbs, linted = presigner.build_and_lint(attrs, key, serial, now)
    signed = tbs.sign(hsm_key, signature_hash(policy))
    tbs.verify(signed, ca_cert.public_key(), signature_hash(policy))

The TBSCertificate is encoded once (:func:`issuer.profile.der.build_tbs_der`);
the lint key and the HSM key each sign those very bytes and the Certificate
around them is assembled by hand. A second ``CertificateBuilder`` build and
encode for the HSM signature cost more than the signature itself (issue 4).
The lint asks the profile's rules of the inputs and reads serial, version,
issuer and validity back from the encoded TBS (:mod:`issuer.lint.inputs`);
it does not encode the certificate again.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes

from issuer.keys import PublicKey
from issuer.lint.cert import Expected, ProfileShape, profile_shape
from issuer.lint.findings import LintError
from issuer.lint.inputs import lint_encoded, lint_inputs
from issuer.lint.lintkey import (
    LintKey,
    lint_key_for,
    load_assembled,
    sign_tbs_der,
    verify_tbs_signature,
)
from issuer.profile import VerifiedAttributes, signature_hash
from issuer.profile.builder import for_usage
from issuer.profile.der import TbsTemplate, build_tbs_der, tbs_template
from issuer.profile.usage import CertificateUsage
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


@dataclass(frozen=True)
class Presigner:
    """Step 3 before the HSM for one (policy, issuing CA). What every certificate of
    that profile shares is made once, here, and kept by the issuance cycle of that
    policy and CA: the TBS template and the lint's profile shape each cost a
    build (the template also a signature; bench/NOTES.md), the lint key a key parse."""

    policy: Policy
    issuer_cert: x509.Certificate
    template: TbsTemplate
    shape: ProfileShape
    lint_key: LintKey
    usage: CertificateUsage = CertificateUsage.MOBILE_ID

    @classmethod
    def for_profile(
        cls,
        policy: Policy,
        issuer_cert: x509.Certificate,
        usage: CertificateUsage = CertificateUsage.MOBILE_ID,
    ) -> Presigner:
        """Make the per-profile parts (:class:`ProfileError` or :class:`LintError` if the
        profile cannot sign with this CA, or the policy does not issue ``usage``)."""
        template = tbs_template(policy, issuer_cert, usage)
        return cls(
            policy=policy,
            issuer_cert=issuer_cert,
            template=template,
            shape=profile_shape(policy, issuer_cert, template, usage),
            lint_key=lint_key_for(issuer_cert.public_key()),
            usage=usage,
        )

    def build_and_lint(
        self,
        attrs: VerifiedAttributes,
        public_key: PublicKey,
        serial: int,
        now: dt.datetime,
        card_not_after: dt.datetime | None = None,
    ) -> tuple[SignableTbs, x509.Certificate]:
        """The TBS to sign and its lint-signed certificate; :class:`LintError` if an
        input breaks a rule of the profile or the encoded TBS does not say the
        intended serial, issuer and validity (nothing must then be signed).
        ``card_not_after`` caps notAfter, in the build and in the lint alike."""
        policy, issuer_cert = self.policy, self.issuer_cert
        tbs = build_tbs_der(
            attrs,
            public_key,
            serial,
            policy,
            issuer_cert,
            now,
            self.template,
            card_not_after,
            self.usage,
        )
        attrs, policy = for_usage(attrs, policy, self.usage)
        algorithm_id = self.template.signature_algorithm
        signed = sign_tbs_der(tbs, self.lint_key, signature_hash(policy), algorithm_id)
        linted = load_assembled(signed, tbs)
        expected = Expected(
            attrs=attrs,
            public_key=public_key,
            serial=serial,
            policy=policy,
            issuer_cert=issuer_cert,
            now=now,
            card_not_after=card_not_after,
            usage=self.usage,
        )
        # In the certificate checks' order (serial ... validity, then subject, SAN,
        # key, extensions), so a finding reads as the certificate lint's would.
        findings = lint_encoded(linted, expected, self.shape) + lint_inputs(expected, self.shape)
        if findings:
            raise LintError(findings, f"certificate serial {serial:x}")
        return SignableTbs(tbs, algorithm_id), linted


def build_and_lint(
    attrs: VerifiedAttributes,
    public_key: PublicKey,
    serial: int,
    policy: Policy,
    issuer_cert: x509.Certificate,
    now: dt.datetime,
) -> tuple[SignableTbs, x509.Certificate]:
    """One certificate's :meth:`Presigner.build_and_lint` (makes the per-profile parts
    for it: for one certificate; the cycle keeps a :class:`Presigner`)."""
    return Presigner.for_profile(policy, issuer_cert).build_and_lint(attrs, public_key, serial, now)
