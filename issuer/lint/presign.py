"""ARCHITECTURE §5 step 3 up to the HSM: build once, lint-sign, fast lint.

The issuance cycle calls :func:`build_and_lint`, then signs the *same*
builder with the HSM key and calls :func:`~issuer.lint.check_same_tbs` on
the two certificates, so the bytes the HSM signs are the bytes that were
linted::

    builder, linted = build_and_lint(attrs, key, serial, policy, ca_cert, now)
    signed = builder.sign(hsm_key, signature_hash(policy))
    check_same_tbs(linted, signed)
"""

from __future__ import annotations

import datetime as dt

from cryptography import x509

from issuer.keys import PublicKey
from issuer.lint.fast import Expected, fast_lint
from issuer.lint.findings import LintError
from issuer.lint.lintkey import lint_sign
from issuer.profile import VerifiedAttributes, build_tbs
from policies import Policy


def build_and_lint(
    attrs: VerifiedAttributes,
    public_key: PublicKey,
    serial: int,
    policy: Policy,
    issuer_cert: x509.Certificate,
    now: dt.datetime,
) -> tuple[x509.CertificateBuilder, x509.Certificate]:
    """The builder to sign and its lint-signed twin; :class:`LintError` if any
    fast check fails (nothing must then be signed)."""
    builder = build_tbs(attrs, public_key, serial, policy, issuer_cert, now)
    linted = lint_sign(builder, policy, issuer_cert)
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
    return builder, linted
