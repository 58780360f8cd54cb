"""The canonical byte encodings that the audit hash chain and checkpoints sign.

Written down in docs/audit.md so that an auditor can re-implement the check
without this code. Both encodings are JSON arrays serialised with
``json.dumps(value, ensure_ascii=True, separators=(",", ":"))``: an array has a
fixed field order, ASCII-only output has exactly one form (every non-ASCII
character becomes a lowercase ``\\uXXXX`` escape), and no whitespace is emitted.
The first element is a domain-separation label with a version, so an event hash
can never be confused with a checkpoint message or a later format.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from typing import TypeAlias

from issuer.audit.errors import AuditDetailsError

JsonValue: TypeAlias = str | int | bool | list["JsonValue"] | dict[str, "JsonValue"] | None

EVENT_LABEL = "zorgid-audit-event-v1"
CHECKPOINT_LABEL = "zorgid-audit-checkpoint-v1"
GENESIS_HASH = "0" * 64
"""The ``prev_hash`` of event 1: the chain starts from nothing."""

_SECRET_KEY = re.compile(
    r"(^|_)(pin|so_pin|password|passphrase|secret|token|handle|private_key|otp)($|_)",
    re.IGNORECASE,
)
_ALLOWED_HASH_SUFFIXES = ("_sha256", "_hash", "_digest")
MAX_DEPTH = 16


def _dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=True, separators=(",", ":"), sort_keys=True)


def _check(value: object, path: str, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise AuditDetailsError(
            f"audit details nest deeper than {MAX_DEPTH} levels at {path}; "
            "expected a flat record: store a digest of large structures instead"
        )
    if value is None or isinstance(value, bool | str):
        return
    if isinstance(value, int):
        return
    if isinstance(value, float):
        raise AuditDetailsError(
            f"audit details hold a float at {path} ({value!r}); expected str, int, bool, "
            "None, list or dict: float text differs between languages, so pass it as a string"
        )
    if isinstance(value, list | tuple):
        for i, item in enumerate(value):
            _check(item, f"{path}[{i}]", depth + 1)
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise AuditDetailsError(
                    f"audit details have a {type(key).__name__} key {key!r} at {path}; "
                    "expected string keys"
                )
            if _SECRET_KEY.search(key) and not key.endswith(_ALLOWED_HASH_SUFFIXES):
                raise AuditDetailsError(
                    f"audit details key {path}.{key} looks like a secret; expected no PINs, "
                    "tokens or handles in the audit log: record a SHA-256 under a key "
                    f"ending in _sha256 (e.g. {key}_sha256) instead"
                )
            _check(item, f"{path}.{key}", depth + 1)
        return
    raise AuditDetailsError(
        f"audit details hold a {type(value).__name__} at {path}; expected str, int, bool, "
        "None, list or dict (encode bytes as hex, datetimes as ISO 8601 text)"
    )


def canonical_details(details: Mapping[str, JsonValue]) -> str:
    """Return the canonical JSON text of *details* (sorted keys, ASCII, no spaces).

    Refuses floats (no single cross-language text form), non-string keys,
    unsupported types and keys that name a secret (``pin``, ``token``,
    ``handle``, ...) unless they name its digest (``token_sha256``).
    """
    _check(details, "details", 0)
    return _dumps(details)


def event_hash(
    *,
    seq: int,
    occurred_at: str,
    actor_role: str,
    actor_identity: str,
    action: str,
    subject: str,
    outcome: str,
    details: str,
    prev_hash: str,
) -> str:
    """SHA-256 (lowercase hex) over the canonical encoding of one event and the previous hash.

    ``occurred_at`` is the stored UTC text (``YYYY-MM-DDTHH:MM:SS.ffffffZ``) and
    ``details`` the stored canonical JSON text, hashed as a string, exactly as stored.
    """
    encoded = _dumps(
        [
            EVENT_LABEL,
            seq,
            occurred_at,
            actor_role,
            actor_identity,
            action,
            subject,
            outcome,
            details,
            prev_hash,
        ]
    )
    return hashlib.sha256(encoded.encode("ascii")).hexdigest()


def checkpoint_message(*, seq: int, chain_hash: str, signed_at: str, key_sha256: str) -> bytes:
    """The bytes an audit checkpoint signature covers: "the chain had *chain_hash* at *seq*"."""
    return _dumps([CHECKPOINT_LABEL, seq, chain_hash, signed_at, key_sha256]).encode("ascii")
