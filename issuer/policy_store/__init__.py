"""Policy versions: the signed rows, the officers' transitions, the one active reader, dry runs.

- :mod:`.signed`: what the audit key signs for a row and the check of a stored
  one (:func:`verify_row`, ZID-1508);
- :mod:`.store`: :class:`PolicyStore`, propose / approve / reject with their
  audit events, validation of a proposal, bootstrap and due activations;
- :mod:`.active`: :class:`ActivePolicy`, the one reader of the version in force
  (issuance, UZI verification, OCSP), verified with the audit public key;
- :mod:`.dryrun`: :func:`recorded_requests`, the evidence a dry run replays.

The SQL is in :mod:`issuer.store.policies`; the rules in :mod:`policies.versions`.
"""

from __future__ import annotations

from issuer.policy_store.active import (
    AUDIT_PUBLIC_KEY_PEM,
    UNRECORDED,
    ActivePolicy,
    ActiveVersion,
    configured_policy,
    read_active,
)
from issuer.policy_store.dryrun import recorded_requests
from issuer.policy_store.signed import SIGNATURE_CONTEXT, StoredVersion, signed_message, verify_row
from issuer.policy_store.store import BOOTSTRAP_ACTOR, SCHEDULE_ACTOR, Officer, PolicyStore

__all__ = [
    "AUDIT_PUBLIC_KEY_PEM",
    "BOOTSTRAP_ACTOR",
    "SCHEDULE_ACTOR",
    "SIGNATURE_CONTEXT",
    "UNRECORDED",
    "ActivePolicy",
    "ActiveVersion",
    "Officer",
    "PolicyStore",
    "StoredVersion",
    "configured_policy",
    "read_active",
    "recorded_requests",
    "signed_message",
    "verify_row",
]
