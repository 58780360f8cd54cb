"""The policy an issuance runs under: the active, signed version of the policy store.

Every reservation and certificate records the number of the
``policy_versions`` row it was issued under (ARCHITECTURE §9). The store
(:mod:`issuer.policy_store`) is the authority: rows are signed with the HSM
audit key and verified on every read (ZID-1508 for a row changed behind the
engine's back); a store with no version yet is bootstrapped -- signed and
audited, once, across processes -- from the configured document (``[policy]
file``, default the packaged ``policies/default.toml``). Security officers'
activations then take effect for the next request: each request takes one
:class:`~issuer.policy_store.ActiveVersion` at its start and keeps it, from the one
reader :class:`~issuer.policy_store.ActivePolicy` (which UZI verification and OCSP use too).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from issuer.audit import AuditLog, CheckpointSigner
from issuer.ca import CaMaterial
from issuer.policy_store import ActivePolicy, ActiveVersion, PolicyStore
from issuer.store import Engine
from policies import DEFAULT_POLICY_PATH

__all__ = ["ActiveVersion", "active_policy_cache", "policy_store", "record_active_policy"]


def _utc_now() -> datetime:
    return datetime.now(UTC)


def policy_store(
    engine: Engine,
    *,
    audit_key: CheckpointSigner,
    material: CaMaterial,
    policy_text: str | None = None,
    source: str | Path = DEFAULT_POLICY_PATH,
    clock: Callable[[], datetime] = _utc_now,
) -> PolicyStore:
    """The policy store over *engine*; bootstraps from *policy_text* (default: *source*'s file)."""
    text = policy_text if policy_text is not None else Path(source).read_text(encoding="utf-8")

    def bootstrap() -> tuple[str, str]:
        return text, str(source)

    return PolicyStore(
        engine,
        audit=AuditLog(signer=audit_key, clock=clock),
        signer=audit_key,
        verifier=material.audit_public_key,
        issuer_cert=material.issuing_ca,
        bootstrap=bootstrap,
        clock=clock,
        lint=False,  # bootstrap and reads only; proposals are linted by the policy service
    )


def active_policy_cache(store: PolicyStore) -> ActivePolicy:
    """The one active-policy reader, settling through *store* (bootstrap, due activations).

    ``current()`` costs one small query while nothing changed (issuer.policy_store.active).
    """
    return ActivePolicy.of_store(store)


def record_active_policy(
    engine: Engine,
    *,
    audit_key: CheckpointSigner,
    material: CaMaterial,
    policy_text: str | None = None,
    source: str | Path = DEFAULT_POLICY_PATH,
    clock: Callable[[], datetime] = _utc_now,
) -> ActiveVersion:
    """The active version now, bootstrapping an empty store (signed) first."""
    store = policy_store(
        engine,
        audit_key=audit_key,
        material=material,
        policy_text=policy_text,
        source=source,
        clock=clock,
    )
    return active_policy_cache(store).current()
