"""Signed policy rows: what the audit key signs for a row, and the check of a stored one.

Every write of a ``policy_versions`` row is signed with the HSM audit key over
the row's meaningful fields (:func:`signed_message`); every read verifies it
with the audit *public* key (:func:`verify_row`), so a document, state or
approval changed in the database behind the engine's back is refused at load
(ZID-1508) instead of being issued under. Verifying needs no HSM.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from issuer.audit import CheckpointVerifier, key_sha256
from issuer.audit import keys as audit_keys
from issuer.errors import ZorgIdError
from issuer.errors import policy as codes
from issuer.store.types import to_utc_text
from policies import Policy, PolicyError, parse_policy
from policies import versions as rules

__all__ = [
    "SIGNATURE_CONTEXT",
    "StoredVersion",
    "record_from_row",
    "row_values",
    "signed_message",
    "text_sha256",
    "verify_row",
]

SIGNATURE_CONTEXT = b"zorgid policy version v1\n"
"""Domain separation: an audit-key signature over a policy row can never be
mistaken for an audit checkpoint signature (a different prefix) or vice versa."""


@dataclass(frozen=True, kw_only=True)
class StoredVersion:
    """A verified row: its record and the parsed policy."""

    record: rules.VersionRecord
    policy: Policy


def signed_message(record: rules.VersionRecord) -> bytes:
    """The bytes the audit key signs for a row: every field that decides what it means."""

    def when(value: dt.datetime | None) -> str | None:
        return None if value is None else to_utc_text(value)

    body = {
        "version": record.version,
        "name": record.name,
        "document_sha256": record.document_sha256,
        "state": record.state.value,
        "proposed_by": record.proposed_by,
        "proposed_at": when(record.proposed_at),
        "approvals": [{"by": a.by, "at": when(a.at)} for a in record.approvals],
        "expires_at": when(record.expires_at),
        "activate_at": when(record.activate_at),
        "base_version": record.base_version,
        "decided_at": when(record.decided_at),
        "decided_by": record.decided_by,
        "activated_at": when(record.activated_at),
        "reason": record.reason,
    }
    return SIGNATURE_CONTEXT + json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def record_from_row(row: Any) -> rules.VersionRecord:
    """The domain record of a stored row (not yet verified)."""
    approvals = tuple(
        rules.Approval(by=str(a["by"]), at=dt.datetime.fromisoformat(str(a["at"])))
        for a in (row.approvals or [])
    )
    return rules.VersionRecord(
        version=int(row.version),
        name=row.name or "",
        document=row.document,
        document_sha256=row.document_sha256,
        state=rules.State(row.state),
        proposed_by=row.proposed_by,
        proposed_at=row.proposed_at,
        approvals=approvals,
        expires_at=row.expires_at,
        activate_at=row.activate_at,
        base_version=row.base_version,
        decided_at=row.decided_at,
        decided_by=row.decided_by,
        activated_at=row.activated_at,
        reason=row.reason,
    )


def row_values(record: rules.VersionRecord) -> dict[str, Any]:
    """The column values of a record, without its signature."""
    return {
        "version": record.version,
        "name": record.name,
        "document": record.document,
        "document_sha256": record.document_sha256,
        "state": record.state.value,
        "proposed_by": record.proposed_by,
        "proposed_at": record.proposed_at,
        "approvals": [{"by": a.by, "at": to_utc_text(a.at)} for a in record.approvals],
        "expires_at": record.expires_at,
        "activate_at": record.activate_at,
        "base_version": record.base_version,
        "decided_at": record.decided_at,
        "decided_by": record.decided_by,
        "activated_at": record.activated_at,
        "reason": record.reason,
    }


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def verify_row(row: Any, verifier: CheckpointVerifier) -> StoredVersion:
    """Check one ``policy_versions`` row against the audit public key; ZID-1508 if it fails."""
    key_id = key_sha256(verifier)
    record = record_from_row(row)
    where = f"policy version {record.version}"
    if row.signature is None or row.signer_key_sha256 is None:
        raise ZorgIdError(
            codes.STORED_POLICY_TAMPERED,
            f"{where} has no signature; expected every row to be signed with the audit key "
            "(a row written outside the engine, or by a pre-versioning engine)",
            metadata={"version": str(record.version)},
        )
    if row.signer_key_sha256 != key_id:
        raise ZorgIdError(
            codes.STORED_POLICY_TAMPERED,
            f"{where} is signed by key {row.signer_key_sha256[:16]}...; expected the audit "
            f"key {key_id[:16]}... of this CA",
            metadata={"version": str(record.version)},
        )
    if text_sha256(record.document) != record.document_sha256:
        raise ZorgIdError(
            codes.STORED_POLICY_TAMPERED,
            f"{where}: the stored document hashes to "
            f"{text_sha256(record.document)[:16]}..., expected "
            f"{record.document_sha256[:16]}... (the document was edited in the database)",
            metadata={"version": str(record.version)},
        )
    if not audit_keys.verify(verifier, row.signature, signed_message(record)):
        raise ZorgIdError(
            codes.STORED_POLICY_TAMPERED,
            f"{where}: the audit-key signature does not match the stored state, approvals "
            "or dates (a field was edited in the database)",
            metadata={"version": str(record.version)},
        )
    try:
        policy = parse_policy(json.loads(record.document))
    except (PolicyError, ValueError) as exc:
        raise ZorgIdError(
            codes.STORED_POLICY_TAMPERED, f"{where} no longer parses: {exc}"
        ) from None
    return StoredVersion(record=record, policy=policy)
