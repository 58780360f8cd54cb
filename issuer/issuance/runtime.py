"""The issuance side of a running engine process, built from the configuration.

Built lazily, on the first call that needs it, so that ``zorgid serve`` starts
(and answers health and CaService) even while the HSM is away; the first
issuance call then opens the token (one login per process, ARCHITECTURE §4),
loads the ceremony's certificates, records the active policy and builds the
:class:`IssuanceCycle` and :class:`Redeemer`, with the OCSP service
(``issuer.ocsp_service.OcspService``) as its hooks so every certificate's first
OCSP response is pre-signed before step 4 and committed with the certificate.
An unavailable HSM answers ``UNAVAILABLE`` (ZID-0004) and is tried again on the
next call; the health callback flips the server NOT_SERVING meanwhile.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from cryptography.hazmat.primitives import serialization

from hsm import Hsm, HsmError, HsmUnavailable
from issuer.audit import AuditLog
from issuer.ca import CaMaterial, CaMaterialError, KeyMismatch, load_ca_material
from issuer.ca.material import check_keys
from issuer.config import Config
from issuer.enrolment.redeem import Redeemer
from issuer.errors import Code, ZorgIdError
from issuer.issuance.cycle import IssuanceCycle
from issuer.issuance.policy_record import active_policy_cache, policy_store
from issuer.issuance.records import (
    CertificateHooks,
    HealthReport,
    IssuanceObserver,
    issuer_id,
)
from issuer.issuance.storing import Committers
from issuer.policy_store import ActivePolicy, ActiveVersion
from issuer.store import Engine, shared_engine
from policies import DEFAULT_POLICY_PATH, Policy
from policies.urls import at_public_url, for_generation

_LOG = logging.getLogger(__name__)

HSM_REASON = "HSM unavailable (issuing CA key)"

HSM_PROBE_SECONDS = 1.0
"""How often ``zorgid serve`` asks an HSM reported away whether it answers again: a
balancer sends a NOT_SERVING process no calls, so recovery cannot wait for one."""

FOLLOW_SECONDS = 60.0
"""How often ``zorgid serve`` looks for a renewed OCSP responder certificate: a renewal
happens with days of the old one left (``[ocsp] responder_renew_before_days``), so a
minute is prompt, and one small file read a minute costs nothing."""


@runtime_checkable
class _FollowsResponder(Protocol):
    """Hooks that sign with a responder certificate (``issuer.ocsp_service.OcspService``)."""

    def use_responder(self, material: CaMaterial, hsm: Hsm) -> bool: ...


@dataclass(frozen=True, kw_only=True)
class Issuance:
    """What the servicers use: the cycle, the redeemer and the chain to hand out."""

    engine: Engine
    cycle: IssuanceCycle
    redeemer: Redeemer
    audit: AuditLog
    chain_der: tuple[bytes, ...]
    issuer_ids: tuple[str, ...]
    """Every issuing CA generation's issuer id, the current one last: a certificate of a
    retired generation still logs in until it expires (``zorgid ca rollover``)."""


@dataclass(frozen=True, kw_only=True)
class _Base:
    """What does not change with the policy version: keys, store, writers."""

    engine: Engine
    hsm: Hsm
    material: CaMaterial
    ca_key: Any
    audit: AuditLog
    active: ActivePolicy
    committers: Committers
    chain_der: tuple[bytes, ...]


class IssuanceRuntime:
    """Builds :class:`Issuance` once per process, on first use (thread-safe).

    ``open_hsm`` logs in to the configured token (``issuer.wiring.hsm_opener``):
    called on first use, not here, so the flows' reads work while the HSM is away.
    ``observer`` hears every cycle's outcomes and step times (the engine's metrics).
    """

    def __init__(
        self,
        config: Config,
        *,
        open_hsm: Callable[[], Hsm],
        health: HealthReport | None = None,
        hooks: CertificateHooks | None = None,
        presign_ocsp: bool = True,
        engine: Engine | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        observer: IssuanceObserver | None = None,
    ) -> None:
        self._config = config
        self._observer = observer
        self._open_hsm = open_hsm
        self._health = health
        self._hooks = hooks
        self._presign_ocsp = presign_ocsp
        self._engine = engine
        self._clock = clock
        self._lock = threading.Lock()
        self._rollover_seen = False
        self._base: _Base | None = None
        self._reader: ActivePolicy | None = None
        self._built: Issuance | None = None
        self._hsm_down = False

    @property
    def engine(self) -> Engine:
        """The database, without opening the HSM: the flows' reads use it during an outage."""
        return self._engine or shared_engine(self._config.database.url)

    def active_policy(self) -> ActiveVersion:
        """The policy version in force, without opening the HSM: reads (``GetTerms``) use it.

        Once issuance is open, its own reader (which also settles: bootstrap, due
        activations); before that, the one reader with the ceremony's audit public key
        (:meth:`ActivePolicy.from_config`), which gives the same version -- the last due
        one, or the configured document that bootstrap records.
        """
        if self._base is not None:
            return self._base.active.current()
        reader = self._reader
        if reader is None:
            reader = self._reader = ActivePolicy.from_config(
                self._config, self.engine, clock=self._clock
            )
        return reader.current()

    def chain_der(self) -> tuple[bytes, ...]:
        """The chain handed out with a certificate, read from the ceremony's files (no HSM)."""
        material = load_ca_material(self._config.data_dir)
        return tuple(c.public_bytes(serialization.Encoding.DER) for c in material.chain())

    def get(self) -> Issuance:
        """The issuance objects for the policy version active now (one small query).

        A request takes the returned object at its start and keeps it, so a
        version activated meanwhile never changes a request in flight; the next
        request gets a cycle for the new version (ARCHITECTURE §9).
        """
        base = self._base or self._open()
        current = base.active.current()
        built = self._built
        if built is not None and built.cycle.policy_version == current.version:
            return built
        with self._lock:
            if self._built is None or self._built.cycle.policy_version != current.version:
                self._built = self._for_version(base, current.version, current.policy)
            return self._built

    def _report(self, ok: bool, why: str) -> None:
        self._hsm_down = not ok
        if self._health is not None:
            self._health(ok, why)

    def probe_hsm(self) -> None:
        """While the HSM is reported away: if it answers now, report it back (health
        SERVING). ``zorgid serve`` calls this every :data:`HSM_PROBE_SECONDS`; nothing is
        asked of the HSM while it is up."""
        if not self._hsm_down:
            return
        base = self._base
        if base is None:
            with contextlib.suppress(ZorgIdError):  # still away: reported again by opening
                self._open()
            return
        if base.hsm.healthy():
            _LOG.info("the HSM answers again")
            self._report(True, HSM_REASON)

    def _open(self) -> _Base:
        with self._lock:
            if self._base is None:
                self._base = self._open_locked()
            return self._base

    def check_keys(self) -> None:
        """At ``zorgid serve`` start: refuse (ZID-0110) a configured key that is not its
        certificate's; an HSM or a ceremony not there yet is left to the first call, as
        before (the server starts and answers health meanwhile)."""
        try:
            self._open_keys()
        except ZorgIdError as exc:
            if exc.code == Code.ZID_0110:
                raise
            _LOG.warning("issuance keys not checked at start (checked on first use): %s", exc)
        except CaMaterialError as exc:
            _LOG.warning("issuance keys not checked at start (checked on first use): %s", exc)

    def _open_keys(self) -> tuple[CaMaterial, Hsm, Any, Any]:
        """The ceremony's certificates and the token's keys, each proven to be its
        certificate's (:func:`issuer.ca.material.check_keys`: issuing CA, OCSP
        responder -- used by the OCSP service this runtime builds -- and audit). A
        mismatch is ZID-0110, before anything is signed or written."""
        config = self._config
        material = load_ca_material(config.data_dir)
        try:
            hsm = self._open_hsm()
            keys = check_keys(material, hsm)
        except HsmUnavailable:
            self._report(False, HSM_REASON)
            raise ZorgIdError(Code.ZID_0004, "the HSM could not be opened; retry later") from None
        except HsmError as exc:
            raise ZorgIdError(Code.ZID_0101, f"HSM keys of the ceremony: {exc}") from None
        except KeyMismatch as exc:
            _LOG.error("refusing to issue: %s", exc)
            raise ZorgIdError(Code.ZID_0110, str(exc)) from None
        return material, hsm, keys[material.issuing_ca_key_label], keys[material.audit_key_label]

    def follow_responder(self) -> bool:
        """Sign first OCSP responses with the responder certificate on disk from now on.

        Why: the OCSP process, cron or ``zorgid ca renew-ocsp`` renews the responder
        certificate in the CA directory; without this the server kept signing with the one
        it started with until restarted (issue 18). ``zorgid serve`` runs it every
        :data:`FOLLOW_SECONDS` (:func:`issuer.server.binding.issuance_service_bindings`).
        Nothing to follow before issuance is open: opening reads the files. A new issuing
        CA (``zorgid ca rollover``) is not followed here: the server issues under the CA it
        started with until restarted, and says so once.
        """
        base = self._base
        if base is None:
            return False
        material = load_ca_material(self._config.data_dir)
        if material.issuing_ca != base.material.issuing_ca:
            if not self._rollover_seen:
                self._rollover_seen = True
                _LOG.warning(
                    "the issuing CA on disk is generation %d, not the one this server started "
                    "with: restart it to issue under the new issuing CA",
                    material.generation,
                )
            return False
        if material.ocsp_responder == base.material.ocsp_responder:
            return False
        with self._lock:
            # Later policy versions build their hooks from the base: give them the new one.
            self._base = replace(base, material=material)
            built = self._built
        hooks: object = built.cycle.hooks if built is not None else None
        if isinstance(hooks, _FollowsResponder):  # the OCSP service; a test's hooks may not
            hooks.use_responder(material, base.hsm)
        _LOG.info(
            "issuance follows the renewed OCSP responder certificate: serial %x -> %x",
            base.material.ocsp_responder.serial_number,
            material.ocsp_responder.serial_number,
        )
        return True

    def _open_locked(self) -> _Base:
        config = self._config
        material, hsm, ca_key, audit_key = self._open_keys()
        engine = self.engine
        source = Path(config.policy.file) if config.policy.file else DEFAULT_POLICY_PATH
        store = policy_store(
            engine, audit_key=audit_key, material=material, source=source, clock=self._clock
        )
        self._report(True, HSM_REASON)
        return _Base(
            engine=engine,
            hsm=hsm,
            material=material,
            ca_key=ca_key,
            audit=AuditLog(signer=audit_key),
            active=active_policy_cache(store),
            committers=Committers.for_engine(engine),
            chain_der=tuple(c.public_bytes(serialization.Encoding.DER) for c in material.chain()),
        )

    def _for_version(self, base: _Base, version: int, policy: Policy) -> Issuance:
        config = self._config
        # Every URL the certificates name on the one public base (issue 18): the policy
        # fixes the paths, [ocsp] public_url where the HTTP front answers them.
        policy = at_public_url(policy, config.ocsp.public_url)
        # The current issuing CA's own caIssuers and CRL paths (after a rollover).
        policy = for_generation(policy, base.material.generation)
        hooks = self._hooks
        if hooks is None and self._presign_ocsp:
            # ARCHITECTURE §5 step 4: pre-sign each certificate's first OCSP response, stored
            # in step 4's transaction (and re-sign + publish a CRL on revocation) with the
            # delegated responder key.
            from issuer.ocsp_service import OcspService

            hooks = OcspService.build(
                engine=base.engine,
                material=base.material,
                hsm=base.hsm,
                policy=policy.ocsp,
                signature_hash=policy.profile.signature_hash,
                clock=self._clock,
                cache_seconds=config.ocsp.cache_seconds,
                keep_seconds=config.ocsp.keep_seconds,
                max_on_demand=config.ocsp.max_on_demand,
                max_certids=config.ocsp.max_certids,
                sign_rate=config.ocsp.sign_rate,
                sign_burst=config.ocsp.sign_burst,
            )
        cycle = IssuanceCycle(
            engine=base.engine,
            policy=policy,
            policy_version=version,
            ca_cert=base.material.issuing_ca,
            ca_key=base.ca_key,
            audit=base.audit,
            hooks=hooks,
            clock=self._clock,
            health=self._report,
            committers=base.committers,
            observer=self._observer,
        )
        _LOG.info(
            "issuance ready: policy %s (version %d), issuing CA %s (generation %d)",
            policy.version,
            version,
            base.material.issuing_ca.subject.rfc4514_string(),
            base.material.generation,
        )
        return Issuance(
            engine=base.engine,
            cycle=cycle,
            redeemer=Redeemer(cycle, lease=timedelta(seconds=config.server.claim_lease_seconds)),
            audit=base.audit,
            chain_der=base.chain_der,
            issuer_ids=tuple(issuer_id(g.certificate) for g in base.material.generations()),
        )
