"""Dry run: what a proposed policy would have done to recent, recorded requests.

The engine keeps evidence of each registration (the verified UZI attributes
frozen at confirmation) and of each certificate it issued (the DER). A
:class:`RecordedRequest` is the part of that evidence the policy decides on;
:func:`dry_run` replays each one against a proposed policy and says whether it
would have been refused, issued differently, or issued the same. Officers see
the blast radius of a change before they approve it (issue 7).

Pure code: the issuer reads the evidence (``issuer.policy_store.recorded_requests``)
and hands it in, so these rules are tested on plain values.
"""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from policies.schema import Policy

__all__ = ["DryRunItem", "DryRunReport", "Outcome", "RecordedRequest", "dry_run"]


class Outcome(enum.StrEnum):
    SAME = "same"
    """Issued, and would be issued with the same properties."""
    REFUSED = "refused"
    """Issued (or pending) under the old policy, refused under the new one."""
    DIFFERENT = "different"
    """Still issued, but the certificate would differ (validity, hash, ...)."""


@dataclass(frozen=True, kw_only=True)
class RecordedRequest:
    """One recent request, as recorded in the registrations/certificates evidence."""

    request_id: str
    """The registration id."""
    at: datetime
    card_type: str
    role: str
    key_kind: str | None
    """``ec-p256``, ``ec-p384`` or ``rsa`` of the issued certificate; ``None``: not redeemed."""
    rsa_bits: int | None
    validity_days: int | None
    """Whole days from notBefore to notAfter of the issued certificate (backdate removed)."""
    signature_hash: str | None
    policy_version: int | None


@dataclass(frozen=True, kw_only=True)
class DryRunItem:
    request: RecordedRequest
    outcome: Outcome
    reasons: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class DryRunReport:
    items: tuple[DryRunItem, ...]

    def counts(self) -> dict[str, int]:
        found = Counter(item.outcome.value for item in self.items)
        return {o.value: found.get(o.value, 0) for o in Outcome}


def _refusals(policy: Policy, req: RecordedRequest) -> list[str]:
    reasons: list[str] = []
    if req.card_type not in policy.uzi.card_types:
        reasons.append(
            f"card type {req.card_type} not accepted (uzi.card_types = "
            f"{list(policy.uzi.card_types)})"
        )
    if not policy.uzi.accepts_role(req.role):
        reasons.append(f"role {req.role} not accepted (uzi.roles = {list(policy.uzi.roles)})")
    if req.key_kind is not None:
        if req.key_kind not in policy.keys.allowed:
            reasons.append(
                f"key type {req.key_kind} not allowed (keys.allowed = {list(policy.keys.allowed)})"
            )
        elif req.key_kind == "rsa" and req.rsa_bits is not None:
            low, high = policy.keys.rsa_min_bits, policy.keys.rsa_max_bits
            if not low <= req.rsa_bits <= high:
                reasons.append(f"RSA key of {req.rsa_bits} bits outside {low}..{high}")
    return reasons


def _differences(policy: Policy, req: RecordedRequest) -> list[str]:
    reasons: list[str] = []
    if req.validity_days is not None and req.validity_days != policy.profile.validity_days:
        reasons.append(
            f"validity {req.validity_days} -> {policy.profile.validity_days} days "
            "(profile.validity_days)"
        )
    if req.signature_hash is not None and req.signature_hash != policy.profile.signature_hash:
        reasons.append(
            f"signature hash {req.signature_hash} -> {policy.profile.signature_hash} "
            "(profile.signature_hash)"
        )
    return reasons


def dry_run(policy: Policy, requests: Iterable[RecordedRequest]) -> DryRunReport:
    """Replay each recorded request against ``policy`` (refusals take precedence)."""
    items: list[DryRunItem] = []
    for req in requests:
        refused = _refusals(policy, req)
        if refused:
            items.append(DryRunItem(request=req, outcome=Outcome.REFUSED, reasons=tuple(refused)))
            continue
        different = _differences(policy, req)
        outcome = Outcome.DIFFERENT if different else Outcome.SAME
        items.append(DryRunItem(request=req, outcome=outcome, reasons=tuple(different)))
    return DryRunReport(items=tuple(items))
