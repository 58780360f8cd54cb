"""The append-only, hash-chained audit log with HSM-signed checkpoints (docs/audit.md).

Every state change appends an :class:`AuditEvent` with :meth:`AuditLog.append`
inside the same transaction as the change; :func:`verify_chain` checks the
chain, the head and the checkpoints and names the first bad event.
"""

from __future__ import annotations

from issuer.audit.encoding import GENESIS_HASH, JsonValue, canonical_details, event_hash
from issuer.audit.errors import AuditDetailsError, AuditError, AuditKeyError
from issuer.audit.keys import CheckpointSigner, CheckpointVerifier, key_sha256, load_public_key
from issuer.audit.log import (
    DEFAULT_CHECKPOINT_EVERY,
    DEFAULT_CHECKPOINT_INTERVAL,
    OUTCOMES,
    AppendedEvent,
    AuditEvent,
    AuditLog,
    Checkpoint,
    CheckpointTimer,
)
from issuer.audit.verify import VerifyResult, verify_chain
from issuer.store.audit import events_after_checkpoint

__all__ = [
    "DEFAULT_CHECKPOINT_EVERY",
    "DEFAULT_CHECKPOINT_INTERVAL",
    "GENESIS_HASH",
    "OUTCOMES",
    "AppendedEvent",
    "AuditDetailsError",
    "AuditError",
    "AuditEvent",
    "AuditKeyError",
    "AuditLog",
    "Checkpoint",
    "CheckpointSigner",
    "CheckpointTimer",
    "CheckpointVerifier",
    "JsonValue",
    "VerifyResult",
    "canonical_details",
    "event_hash",
    "events_after_checkpoint",
    "key_sha256",
    "load_public_key",
    "verify_chain",
]
