"""The issuance side of a running engine process, built from the configuration.

Built lazily, on the first call that needs it, so that ``zorgid serve`` starts
(and answers health and CaService) even while the HSM is away; the first
issuance call then opens the token (one login per process, ARCHITECTURE §4),
loads the ceremony's certificates, records the active policy and builds the
:class:`IssuanceCycle` and :class:`Redeemer`, with the OCSP service
(``issuer.ocsp_wiring.OcspService``) as its hooks so every certificate's first
OCSP response is pre-signed after the commit. An unavailable HSM answers
``UNAVAILABLE`` (ZID-0004) and is tried again on the next call; the health
callback flips the server NOT_SERVING meanwhile.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization

from hsm import Hsm, HsmError, HsmUnavailable
from issuer.audit import AuditLog
from issuer.ca import load_ca_material
from issuer.config import Config
from issuer.enrolment.redeem import Redeemer
from issuer.errors import ZorgIdError
from issuer.issuance.cycle import CertificateHooks, HealthReport, IssuanceCycle
from issuer.issuance.policy_record import record_active_policy
from issuer.store import create_engine_for
from policies import Policy, default_policy, load_policy

_LOG = logging.getLogger(__name__)

HSM_REASON = "HSM unavailable (issuing CA key)"


@dataclass(frozen=True, kw_only=True)
class Issuance:
    """What the servicers use: the cycle, the redeemer and the chain to hand out."""

    engine: sa.Engine
    cycle: IssuanceCycle
    redeemer: Redeemer
    audit: AuditLog
    chain_der: tuple[bytes, ...]


def load_active_policy(config: Config) -> Policy:
    """``[policy] file`` or the packaged development policy."""
    return load_policy(config.policy.file) if config.policy.file else default_policy()


class IssuanceRuntime:
    """Builds :class:`Issuance` once per process, on first use (thread-safe)."""

    def __init__(
        self,
        config: Config,
        *,
        health: HealthReport | None = None,
        hooks: CertificateHooks | None = None,
        presign_ocsp: bool = True,
        engine: sa.Engine | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._config = config
        self._health = health
        self._hooks = hooks
        self._presign_ocsp = presign_ocsp
        self._engine = engine
        self._clock = clock
        self._lock = threading.Lock()
        self._built: Issuance | None = None

    def get(self) -> Issuance:
        built = self._built
        if built is not None:
            return built
        with self._lock:
            if self._built is None:
                self._built = self._build()
            return self._built

    def _report(self, ok: bool, why: str) -> None:
        if self._health is not None:
            self._health(ok, why)

    def _build(self) -> Issuance:
        config = self._config
        material = load_ca_material(config.data_dir)
        try:
            hsm = Hsm.open(
                module_path=config.hsm.module,
                token_label=config.hsm.token,
                pin_source=str(config.hsm.pin_source),
            )
            ca_key = hsm.get_key(material.issuing_ca_key_label)
            audit_key = hsm.get_key(material.audit_key_label)
        except HsmUnavailable:
            self._report(False, HSM_REASON)
            raise ZorgIdError("ZID-0004", "the HSM could not be opened; retry later") from None
        except HsmError as exc:
            raise ZorgIdError("ZID-0101", f"HSM keys of the ceremony: {exc}") from None
        engine = self._engine or create_engine_for(config.database.url)
        audit = AuditLog(signer=audit_key)
        policy = load_active_policy(config)
        caller = str(config.source) if config.source else "config"
        active = record_active_policy(
            engine, policy, audit=audit, actor=f"config:{caller}"[:256], now=self._clock()
        )
        policy, version = active.policy, active.version
        hooks = self._hooks
        if hooks is None and self._presign_ocsp:
            # ARCHITECTURE §5 step 4: pre-sign each certificate's first OCSP response
            # (and re-sign + publish a CRL on revocation) with the delegated responder key.
            from issuer.ocsp_wiring import OcspService

            hooks = OcspService.build(
                engine=engine,
                material=material,
                hsm=hsm,
                policy=policy.ocsp,
                clock=self._clock,
                cache_seconds=config.ocsp.cache_seconds,
                max_on_demand=config.ocsp.max_on_demand,
            )
        cycle = IssuanceCycle(
            engine=engine,
            policy=policy,
            policy_version=version,
            ca_cert=material.issuing_ca,
            ca_key=ca_key,
            audit=audit,
            hooks=hooks,
            clock=self._clock,
            health=self._health,
        )
        self._report(True, HSM_REASON)
        chain = tuple(c.public_bytes(serialization.Encoding.DER) for c in material.chain())
        _LOG.info(
            "issuance ready: policy %s (version %d), issuing CA %s",
            policy.version,
            version,
            material.issuing_ca.subject.rfc4514_string(),
        )
        return Issuance(
            engine=engine,
            cycle=cycle,
            redeemer=Redeemer(cycle),
            audit=audit,
            chain_der=chain,
        )
