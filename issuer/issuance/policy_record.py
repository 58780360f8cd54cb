"""The active policy as a numbered row of ``policy_versions``.

Every reservation and certificate records the policy version it was issued
under (ARCHITECTURE §9) as the integer of its ``policy_versions`` row. The
store is the authority: when a version is active there (approved by security
officers, ``policies.versions``), the engine issues under it, whatever the
configuration says. Only a store with no active version is bootstrapped from
the configured document (``[policy] file``, default the packaged one), which
is recorded once, by digest, as the next version, with a ``policy.activate``
audit event. ``document`` holds the canonical JSON (``policies.canonical_bytes``),
as every reader of the table expects. Several processes starting at once agree
(the primary key refuses the second insert, which then reads the first).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from issuer.audit import AuditEvent, AuditLog
from issuer.store.schema import policy_versions
from policies import Policy, parse_policy

_LOG = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class ActivePolicy:
    """The policy to issue under and its number in ``policy_versions``."""

    version: int
    policy: Policy


def record_active_policy(
    engine: sa.Engine, configured: Policy, *, audit: AuditLog, actor: str, now: datetime
) -> ActivePolicy:
    """The active version of the store, or *configured* recorded as the first active one."""
    for _ in range(3):
        with engine.begin() as conn:
            active = conn.execute(
                sa.select(policy_versions.c.version, policy_versions.c.document)
                .where(policy_versions.c.state == "active")
                .order_by(policy_versions.c.version.desc())
                .limit(1)
            ).first()
            if active is not None:
                policy = parse_policy(json.loads(active.document))
                if policy.digest != configured.digest:
                    _LOG.warning(
                        "the configured policy %s differs from active version %d (%s) in the "
                        "store; issuing under the active version (propose the file with "
                        "`zorgid policy propose` to change it)",
                        configured.version,
                        active.version,
                        policy.version,
                    )
                return ActivePolicy(version=int(active.version), policy=policy)
            highest = conn.execute(sa.select(sa.func.max(policy_versions.c.version))).scalar()
            number = 1 if highest is None else int(highest) + 1
            try:
                with conn.begin_nested():
                    conn.execute(
                        policy_versions.insert().values(
                            version=number,
                            name=str(configured.version)[:64],
                            document=configured.canonical.decode("utf-8"),
                            document_sha256=configured.digest,
                            state="active",
                            proposed_by=actor[:256],
                            proposed_at=now,
                            approvals=[],
                            decided_at=now,
                            activated_at=now,
                            reason="bootstrap from the configured policy file",
                        )
                    )
            except sa.exc.IntegrityError:
                continue  # another process recorded a version first: look again
            audit.append(
                conn,
                AuditEvent(
                    actor_role="engine",
                    actor_identity=actor[:512],
                    action="policy.activate",
                    subject=f"policy:{number}",
                    details={
                        "version": number,
                        "name": str(configured.version),
                        "document_sha256": configured.digest,
                        "source": "configuration (no active version in the store)",
                    },
                ),
            )
            return ActivePolicy(version=number, policy=configured)
    raise RuntimeError("could not record the active policy after 3 attempts (concurrent starts)")
