"""Checks at proposal time beyond the schema: known OIDs and cross-field bounds.

:func:`policies.parse_policy` already refuses unknown keys, unknown key types
and card types, and single values out of their documented bounds. A *proposal*
must also pass the rules here, which need a table of known OIDs or look at two
fields together; the issuer adds the checks that need its world (the trust set
exists, the issuing CA outlives the certificates, the sample certificate lints).

Each rule says why in its message; ``docs/policy-versions.md`` lists them.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from policies.schema import DAY, Policy

__all__ = ["KNOWN_EKUS", "Problem", "problems"]

KNOWN_EKUS: Final = MappingProxyType(
    {
        "1.3.6.1.5.5.7.3.4": "emailProtection (RFC 5280 §4.2.1.12): S/MIME signing",
        "1.3.6.1.5.5.7.3.36": "documentSigning (RFC 9336)",
        "1.3.6.1.4.1.311.10.3.12": "Microsoft document signing (Office/Adobe relying parties)",
        "1.3.6.1.4.1.311.20.2.2": "Microsoft smart card logon",
    }
)
"""Extended key usages a mobile ID may carry besides clientAuth. Anything else
(serverAuth, codeSigning, timeStamping, a typo) would let a healthcare
professional's phone key act in a role the CPS never allowed."""

ANY_POLICY: Final = "2.5.29.32.0"


@dataclass(frozen=True, kw_only=True)
class Problem:
    """One refusal: the key path, what was got, what was expected and why."""

    path: str
    got: str
    expected: str

    def __str__(self) -> str:
        return f"policy key {self.path!r}: got {self.got}; expected {self.expected}"


def problems(policy: Policy) -> list[Problem]:
    """Every rule of this module the policy breaks (empty: none)."""
    found: list[Problem] = []
    for i, oid in enumerate(policy.profile.extra_ekus):
        if oid not in KNOWN_EKUS:
            found.append(
                Problem(
                    path=f"profile.extra_ekus[{i}]",
                    got=f"unknown OID {oid}",
                    expected="one of " + ", ".join(f"{k} ({v})" for k, v in KNOWN_EKUS.items()),
                )
            )
    card = policy.smartcard
    named = [
        (f"profile.certificate_policies[{i}]", cp)
        for i, cp in enumerate(policy.profile.certificate_policies)
    ] + [
        (f"smartcard.{name}.certificate_policies[{i}]", cp)
        for name in ("authentication", "signature", "encryption")
        if (carried := getattr(card, name)) is not None
        for i, cp in enumerate(carried.certificate_policies)
    ]
    for path, cp in named:
        if cp.oid == ANY_POLICY:
            found.append(
                Problem(
                    path=f"{path}.oid",
                    got="anyPolicy (2.5.29.32.0)",
                    expected="this CA's own policy OID: an end-entity certificate must name the "
                    "policy it was issued under (RFC 5280 §4.2.1.4)",
                )
            )
    if policy.qr.uzi_challenge_seconds > policy.qr.uzi_session_seconds:
        found.append(
            Problem(
                path="qr.uzi_challenge_seconds",
                got=str(policy.qr.uzi_challenge_seconds),
                expected=f"at most qr.uzi_session_seconds ({policy.qr.uzi_session_seconds}): "
                "the session proves a card was present, so it cannot be shorter than the "
                "challenge it came from",
            )
        )
    if policy.ocsp.crl_next_update_seconds > policy.profile.validity_days * DAY:
        found.append(
            Problem(
                path="ocsp.crl_next_update_seconds",
                got=str(policy.ocsp.crl_next_update_seconds),
                expected=f"at most the certificate validity ({policy.profile.validity_days} "
                "days): a CRL must be refreshed within a certificate's life (RFC 5280 §5.1.2.5)",
            )
        )
    return found
