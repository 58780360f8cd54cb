"""The active policy as a numbered row of ``policy_versions``.

Every reservation and certificate records the policy version it was issued
under (ARCHITECTURE §9) as an integer that refers to ``policy_versions``.
Until security officers version policies (their own issue), the one active
document is the ``[policy] file`` of the configuration: at start-up it is
recorded once, by its digest, and becomes the active row; a changed file gets
the next number and supersedes the old row, with an audit event either way.
Several processes starting at once agree on the number (the primary key
refuses the second insert, which then reads the first).
"""

from __future__ import annotations

import hashlib
from datetime import datetime

import sqlalchemy as sa

from issuer.audit import AuditEvent, AuditLog
from issuer.store.schema import policy_versions
from policies import Policy


def record_active_policy(
    engine: sa.Engine, policy: Policy, *, audit: AuditLog, actor: str, now: datetime
) -> int:
    """Return the number of *policy* in ``policy_versions``, recording it active if new."""
    text = policy.canonical.decode("utf-8")
    for _ in range(3):
        with engine.begin() as conn:
            found = conn.execute(
                sa.select(policy_versions.c.version, policy_versions.c.state)
                .where(policy_versions.c.document_sha256 == policy.digest)
                .order_by(policy_versions.c.version.desc())
            ).first()
            if found is not None and found.state == "active":
                return int(found.version)
            highest = conn.execute(sa.select(sa.func.max(policy_versions.c.version))).scalar()
            number = 1 if highest is None else int(highest) + 1
            try:
                with conn.begin_nested():
                    conn.execute(
                        policy_versions.update()
                        .where(policy_versions.c.state == "active")
                        .values(state="superseded", decided_at=now)
                    )
                    conn.execute(
                        policy_versions.insert().values(
                            version=number,
                            document=text,
                            document_sha256=policy.digest,
                            state="active",
                            proposed_by=actor,
                            proposed_at=now,
                            approvals=[],
                            decided_at=now,
                            activated_at=now,
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
                        "name": str(policy.version),
                        "document_sha256": policy.digest,
                        "text_sha256": hashlib.sha256(text.encode()).hexdigest(),
                        "source": "config [policy] file",
                    },
                ),
            )
            return number
    raise RuntimeError("could not record the active policy after 3 attempts (concurrent starts)")
