"""The UZI verifier's rules, taken from the policy version in force at each request (issue 7).

The version comes from the one active-policy reader
(:class:`issuer.policy_store.ActivePolicy`: the signed ``policy_versions`` row,
verified with ``<data_dir>/ca/audit-checkpoint.pub.pem``, or the configured
document before any version is recorded); :func:`uzi_policy_from` maps its
``[uzi]`` and ``[qr]`` to a :class:`~issuer.uzi.verify.UziPolicy`.
"""

from __future__ import annotations

import threading
from datetime import timedelta

from issuer.config import Config
from issuer.policy_store import ActivePolicy, ActiveVersion
from issuer.store import Engine
from issuer.uzi.validate import RevocationMode
from issuer.uzi.verify import Clock, UziPolicy, utc_now
from issuer.uzi_vocabulary import CardType
from policies import Policy

__all__ = ["UziPolicySource", "policy_source", "uzi_policy_from"]


def uzi_policy_from(policy: Policy) -> UziPolicy:
    """The verifier's :class:`UziPolicy` from the ``[uzi]`` and ``[qr]`` of a policy document.

    Role patterns: ``*`` accepts every role (None), ``NN.*`` a profession
    (``NN.``), ``NN.NNN`` one role -- the forms ``UziVerifier.check_card`` reads.
    """
    roles: frozenset[str] | None = frozenset(
        pattern[:-1] if pattern.endswith(".*") else pattern for pattern in policy.uzi.roles
    )
    if roles is not None and "*" in roles:
        roles = None
    return UziPolicy(
        trust_set=policy.uzi.trust_set,
        revocation=RevocationMode(policy.uzi.revocation_mode),
        accepted_card_types=frozenset(CardType(t) for t in policy.uzi.card_types),
        accepted_roles=roles,
        challenge_lifetime=timedelta(seconds=policy.qr.uzi_challenge_seconds),
        session_lifetime=timedelta(seconds=policy.qr.uzi_session_seconds),
    )


class UziPolicySource:
    """A :data:`~issuer.uzi.verify.PolicySource`: the UZI part of :meth:`ActivePolicy.current`.

    The reader caches by the database's key, so it hands out the same
    :class:`ActiveVersion` while nothing changed; the mapping is kept for that
    object, so an unchanged version costs one key read and no mapping.
    """

    def __init__(self, active: ActivePolicy) -> None:
        self._active = active
        self._lock = threading.Lock()
        self._mapped: tuple[ActiveVersion, UziPolicy] | None = None

    def __call__(self) -> UziPolicy:
        current = self._active.current()
        mapped = self._mapped
        if mapped is not None and mapped[0] is current:
            return mapped[1]
        with self._lock:
            rules = uzi_policy_from(current.policy)
            self._mapped = (current, rules)
            return rules


def policy_source(config: Config, engine: Engine, *, clock: Clock = utc_now) -> UziPolicySource:
    """The server's rules: the version in force on ``engine``, else the configured document.

    ``clock`` is wall time (``activate_at`` is), not a verifier's test clock.
    """
    return UziPolicySource(ActivePolicy.from_config(config, engine, clock=clock))
