"""Issuance policy: its schema, its documents, versioning and approval.

Imports nothing of the project: the issuer reads a validated policy from here.
"""

from policies.reader import (
    DEFAULT_POLICY_PATH,
    canonical_bytes,
    default_policy,
    dump,
    load_policy,
    parse_policy,
)
from policies.schema import (
    ApprovalPolicy,
    CardCertificatePolicy,
    CertificatePolicy,
    EnrolmentPolicy,
    KeyPolicy,
    OcspPolicy,
    Policy,
    PolicyError,
    PolicyVersion,
    ProfilePolicy,
    QrPolicy,
    SmartcardPolicy,
    TermsPolicy,
    TermsVersion,
    UziPolicy,
)

__all__ = [
    "DEFAULT_POLICY_PATH",
    "ApprovalPolicy",
    "CardCertificatePolicy",
    "CertificatePolicy",
    "EnrolmentPolicy",
    "KeyPolicy",
    "OcspPolicy",
    "Policy",
    "PolicyError",
    "PolicyVersion",
    "ProfilePolicy",
    "QrPolicy",
    "SmartcardPolicy",
    "TermsPolicy",
    "TermsVersion",
    "UziPolicy",
    "canonical_bytes",
    "default_policy",
    "dump",
    "load_policy",
    "parse_policy",
]
