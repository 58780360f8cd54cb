"""One engine process's OCSP/CRL objects, wired over the store and one token.

:class:`OcspService` builds ``ocsp``'s pre-signer, CRL publisher and responder
over the store's ports (:mod:`issuer.store.ocsp`) and is the issuance cycle's
hooks; the composition roots (``zorgid serve``, ``zorgid ocsp serve``,
``zorgid dev``) build it::

    service = OcspService.build(engine=engine, material=load_ca_material(data_dir),
                                hsm=hsm, policy=policy.ocsp,
                                signature_hash=policy.profile.signature_hash)
    cycle = IssuanceCycle(..., hooks=service)        # before_store / on_revoked
    service.revoke(engine, issuer_id, serial_hex, at=now, reason="keyCompromise")
    service.refresh()                                # everything due, then CRLs

:class:`BackgroundRefresher` runs :meth:`OcspService.refresh` on a timer.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from hsm import Hsm
from issuer.ca import CaMaterial
from issuer.profile import hash_named
from issuer.store import Connection, Engine, repo
from issuer.store.ocsp import (
    StoreCrls,
    StoreResponses,
    StoreStatusSource,
    insert_first_response,
)
from issuer.store.transactions import write_transaction
from ocsp.codec import ResponseSigner
from ocsp.crl import CrlPublisher
from ocsp.issuers import IssuerIndex, IssuingCa, spki_sha256
from ocsp.model import CertStatus, OcspTiming
from ocsp.presign import Clock, PreSigner, RefreshReport, utc_now
from ocsp.responder import Responder
from policies import OcspPolicy
from policies.schema import SignatureHash

_LOG = logging.getLogger(__name__)


def timing_from_policy(policy: OcspPolicy) -> OcspTiming:
    """``[ocsp]`` of the issuance policy as ``ocsp``'s plain timing value."""
    return OcspTiming(
        validity=timedelta(seconds=policy.response_validity_seconds),
        refresh_fraction=policy.refresh_fraction,
        crl_validity=timedelta(seconds=policy.crl_next_update_seconds),
        echo_nonce=policy.echo_nonce,
    )


class IssuedLike(Protocol):
    """What the issuance hooks hand us (``issuer.issuance.IssuedCertificate`` fits)."""

    @property
    def issuer(self) -> str: ...

    @property
    def serial(self) -> str: ...


@dataclass(frozen=True, kw_only=True)
class OcspService:
    """Everything OCSP/CRL of one engine process, wired over one database and one token."""

    issuers: IssuerIndex
    status: StoreStatusSource
    responses: StoreResponses
    crl_store: StoreCrls
    presigner: PreSigner
    crls: CrlPublisher
    responder: Responder
    timing: OcspTiming
    current: str
    """Issuer id of the current issuing CA: the one whose responder renews."""
    _rollover_logged: list[bool] = field(default_factory=list, repr=False, compare=False)

    @classmethod
    def build(
        cls,
        *,
        engine: Engine,
        material: CaMaterial,
        hsm: Hsm,
        policy: OcspPolicy | OcspTiming,
        signature_hash: SignatureHash,
        clock: Clock = utc_now,
        cache_seconds: float = 5.0,
        keep_seconds: float = 0.0,
        max_on_demand: int = 4,
        max_certids: int = 10,
        sign_rate: float = 20.0,
        sign_burst: int = 40,
    ) -> OcspService:
        """Wire one process's OCSP/CRL objects; the limits are ``[ocsp]`` of the config
        (issuer.config.OcspConfig: ``max_on_demand``, ``max_certids``, ``sign_rate``,
        ``sign_burst``) and bound what a request from outside can make the HSM do;
        ``cache_seconds`` and ``keep_seconds`` how long answers are kept (``ocsp.kept``:
        ``keep_seconds`` 0, the default here, reads no change feed)."""
        timing = policy if isinstance(policy, OcspTiming) else timing_from_policy(policy)
        # Every generation of issuing CA answers until its certificates expire (rollover):
        # the current one through its delegated responder, a retired one signs its own
        # responses (RFC 6960 §4.2.2.2) and, like the current one, its CRL.
        generations = material.generations()
        cas = [IssuingCa.from_certificate(g.certificate) for g in generations]
        issuers = IssuerIndex(cas)
        key_labels = {ca.issuer_id: g.key_label for ca, g in zip(cas, generations, strict=True)}
        current = cas[-1].issuer_id
        status = StoreStatusSource(engine)
        responses = StoreResponses(engine)
        crl_store = StoreCrls(engine)
        signers = {
            # A retired CA answers for its own certificates (RFC 6960 §4.2.2.2), with the
            # hash it signed them and signs its CRLs with: one key, one hash.
            ca.issuer_id: ResponseSigner(
                certificate=g.certificate,
                key=hsm.get_key(key_labels[ca.issuer_id]),
                hash_name=signature_hash,
            )
            for ca, g in zip(cas[:-1], generations[:-1], strict=True)
        }
        signers[current] = ResponseSigner(
            certificate=material.ocsp_responder, key=hsm.get_key(material.ocsp_responder_key_label)
        )
        presigner = PreSigner(
            issuers=issuers,
            status=status,
            store=responses,
            signers=signers,
            timing=timing,
            clock=clock,
        )
        publisher = CrlPublisher(
            issuers=issuers,
            status=status,
            store=crl_store,
            key_for=lambda ca: hsm.get_key(key_labels[ca.issuer_id]),
            timing=timing,
            signature_hash=hash_named(signature_hash),
            clock=clock,
        )
        responder = Responder(
            issuers=issuers,
            status=status,
            presigner=presigner,
            store=responses,
            signers=signers,
            timing=timing,
            clock=clock,
            cache_seconds=cache_seconds,
            keep_seconds=keep_seconds,
            changes=responses,
            max_on_demand=max_on_demand,
            max_certids=max_certids,
            sign_rate=sign_rate,
            sign_burst=sign_burst,
        )
        return cls(
            issuers=issuers,
            status=status,
            responses=responses,
            crl_store=crl_store,
            presigner=presigner,
            crls=publisher,
            responder=responder,
            timing=timing,
            current=current,
        )

    @property
    def signer(self) -> ResponseSigner:
        """The current issuing CA's responder certificate and key, as signing now."""
        return self.presigner.signer_for(self.current)

    def use_responder(self, material: CaMaterial, hsm: Hsm) -> bool:
        """Sign with *material*'s responder certificate from now on, if it is not the one
        in use (renewed here, by another process or by ``zorgid ca renew-ocsp``).

        Only for the issuing CA this process started with: after ``zorgid ca rollover``
        the responder on disk is the new CA's, which this process does not answer for
        until it is restarted (it keeps signing as before, and says so once).
        """
        if spki_sha256(material.issuing_ca) != self.current:
            if not self._rollover_logged:
                self._rollover_logged.append(True)
                _LOG.warning(
                    "the issuing CA on disk is generation %d, not the one this process started "
                    "with: restart it to answer for the new issuing CA",
                    material.generation,
                )
            return False
        if self.signer.certificate == material.ocsp_responder:
            return False
        signer = ResponseSigner(
            certificate=material.ocsp_responder, key=hsm.get_key(material.ocsp_responder_key_label)
        )
        self.presigner.use_signer(self.current, signer)
        self.responder.use_signer(self.current, signer)
        return True

    # -- hooks of the issuance cycle (issuer.issuance.CertificateHooks) -------------

    def before_store(self, issuer: str, serial: str) -> Callable[[Connection, Any], None]:
        """Pre-sign the first response of a certificate about to be stored (ARCHITECTURE §5
        step 4) and return its INSERT for step 4's transaction.

        Why here and not after the commit: the response then commits with the
        certificate and its audit event (no commit of its own, ~1 ms, and no
        write outside the issuance writer queue) and needs no status read: a
        certificate not yet stored can only be ``good`` -- a revocation cannot
        precede the commit of what it revokes, and its response, signed after
        it, has a later ``produced_at``, which the store keeps
        (:func:`issuer.store.repo.save_ocsp_response`). A plain INSERT: no row
        can exist yet (the foreign key needs the certificate, which is new).
        ``produced_at`` is the moment before signing, so it precedes the commit.
        If this raises (HSM), the cycle stores the certificate without a response
        and the refresher signs it (missing responses are due).
        """
        response = self.presigner.sign(issuer, int(serial, 16), status=CertStatus.good())

        def insert(conn: Connection, _cert: Any) -> None:
            insert_first_response(conn, issuer=issuer, serial=serial, response=response)

        return insert

    def on_issued(self, cert: IssuedLike) -> None:
        """Nothing after the commit: :meth:`before_store` committed the first response with
        the certificate (or failed, and the refresher signs it). Callers without a cycle use
        :meth:`presign_issued`."""
        return None

    def on_revoked(self, cert: IssuedLike) -> None:
        """Re-sign the response as revoked and publish a new CRL (RFC 5280 §5: full CRL)."""
        self.publish_revoked(cert.issuer, cert.serial)

    def on_revoked_many(self, certs: Sequence[IssuedLike]) -> None:
        """:meth:`on_revoked` for many at once (the UZI-pas watch: a register CA revoked, or
        holds over a register outage): each response re-signed, then one CRL per issuer
        instead of one per certificate. A failed re-signing is logged; the rest go on."""
        for cert in certs:
            try:
                self.presigner.presign(cert.issuer, int(cert.serial, 16))
            except Exception:  # the refresher re-signs a revoked one answered good
                _LOG.exception("OCSP re-signing failed for serial %s", cert.serial)
        for issuer_id in dict.fromkeys(c.issuer for c in certs):
            self.crls.publish(issuer_id)

    def presign_issued(self, issuer_id: str, serial: str) -> None:
        """Sign and store the response of a certificate stored outside the issuance cycle
        (issuer SPKI SHA-256 hex, serial hex): its status is read from the store, as the
        refresher does; the cycle itself uses :meth:`before_store`."""
        self.presigner.presign(issuer_id, int(serial, 16))

    def publish_revoked(self, issuer_id: str, serial: str) -> None:
        """:meth:`on_revoked` in plain types: new response, new CRL."""
        self.presigner.presign(issuer_id, int(serial, 16))
        self.crls.publish(issuer_id)

    # -- operator actions ----------------------------------------------------------

    def revoke(
        self, engine: Engine, issuer_id: str, serial: str, *, at: datetime, reason: str
    ) -> bool:
        """Revoke in the store (once; first time and reason stay), then re-sign and re-publish."""
        with write_transaction(engine) as conn:
            changed = repo.revoke_certificate(
                conn, issuer=issuer_id, serial=serial, at=at, reason=reason
            )
        self.publish_revoked(issuer_id, serial)
        return changed

    def count_due(self) -> int:
        """Responses due now (for a progress bar's total)."""
        now = self.presigner.now()
        horizon = now + (self.timing.validity - self.timing.refresh_after)
        return self.responses.count_due(now=now, next_update_before=horizon)

    def refresh(
        self,
        *,
        batch: int = 1000,
        progress: Callable[[int, int], None] | None = None,
    ) -> RefreshReport:
        """Re-sign every due response (in batches until none is left), then due CRLs.

        *progress* gets ``(done, total)`` over the whole run, total being
        :meth:`count_due` at the start (raised if more turn up).
        """
        signed = kept = failed = 0
        total = self.count_due() if progress is not None else 0
        finished = 0

        def step(done: int, _batch_total: int) -> None:
            nonlocal total
            if progress is not None:
                total = max(total, finished + done)
                progress(finished + done, total)

        while True:
            report = self.presigner.refresh_due(limit=batch, progress=step)
            finished += report.signed + report.kept_newer + report.failed
            signed += report.signed
            kept += report.kept_newer
            failed += report.failed
            if report.signed == 0:
                break  # nothing left, or only rows another node keeps newer: stop
        self.crls.publish_due()
        return RefreshReport(signed=signed, kept_newer=kept, failed=failed)


class BackgroundRefresher:
    """One worker thread: ``refresh()`` every ``interval`` seconds (bounded: one signer at a time).

    Each node may run one; their work overlaps harmlessly (the store keeps the
    newest response, CRL numbers are taken once), so no leader election.
    """

    def __init__(
        self,
        service: OcspService,
        *,
        interval: float = 60.0,
        before_each: Callable[[], object] | None = None,
        refresh: bool = True,
    ) -> None:
        self._service = service
        self._refresh = refresh
        """False: only *before_each* (a further responder process follows the renewal)."""
        self._interval = interval
        self._before_each = before_each
        """Run first on every pass (the responder certificate's renewal check)."""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ocsp-refresh", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float | None = 10.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            if self._before_each is not None:
                try:
                    self._before_each()
                except Exception:
                    _LOG.exception("OCSP responder renewal check failed; retrying next pass")
            if not self._refresh:
                self._stop.wait(self._interval)
                continue
            try:
                report = self._service.refresh()
                if report.signed or report.failed:
                    _LOG.info("OCSP refresh: %d signed, %d failed", report.signed, report.failed)
            except Exception:
                _LOG.exception("OCSP refresh pass failed; retrying in %.0f s", self._interval)
            self._stop.wait(self._interval)
