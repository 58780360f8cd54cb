"""Linting certificates before they are signed (ARCHITECTURE §5 step 3)."""

from issuer.lint.cert import Expected
from issuer.lint.fast import CHECKS, fast_lint
from issuer.lint.findings import Finding, LintError, Severity
from issuer.lint.inputs import INPUT_RULES, lint_encoded, lint_inputs
from issuer.lint.lintkey import SignatureInvalid, lint_key_for, lint_sign, verify_tbs_signature
from issuer.lint.pkix import at_or_above, pkilint_cert
from issuer.lint.presign import Presigner, SignableTbs, build_and_lint
from issuer.lint.profile import lint_profile, sample_attributes

__all__ = [
    "CHECKS",
    "INPUT_RULES",
    "Expected",
    "Finding",
    "LintError",
    "Presigner",
    "Severity",
    "SignableTbs",
    "SignatureInvalid",
    "at_or_above",
    "build_and_lint",
    "fast_lint",
    "lint_encoded",
    "lint_inputs",
    "lint_key_for",
    "lint_profile",
    "lint_sign",
    "pkilint_cert",
    "sample_attributes",
    "verify_tbs_signature",
]
