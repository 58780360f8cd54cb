"""``zorgid ocsp serve|refresh`` from the engine's config file: the OCSP side's process.

:class:`OcspRuntime` opens the store, reads the verified ``[ocsp]`` policy,
logs in to the HSM and builds an :class:`~issuer.ocsp_service.OcspService`;
:func:`serve_http` runs the responder's HTTP front (``ocsp.front`` on granian) and the
background refresher. The ports over the store are :mod:`issuer.store.ocsp`.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import TypeVar

from cryptography.hazmat.primitives.serialization import Encoding

from hsm import Hsm, HsmPrivateKey
from issuer.arl_renewal import ArlRenewal
from issuer.audit import AuditLog
from issuer.ca import CaMaterial, load_ca_material
from issuer.ca.errors import CaMaterialError
from issuer.ca.material import check_keys
from issuer.ca.published import ArlFile, root_is_ours, root_paths
from issuer.config import Config, parse_listen
from issuer.ocsp_renewal import ResponderRenewal
from issuer.ocsp_service import BackgroundRefresher, OcspService
from issuer.policy_store import ActivePolicy, configured_policy
from issuer.store import Engine, check_schema, create_engine_for, current_revision
from ocsp.front import CrlCache, Front, HttpRoutes
from ocsp.issuers import spki_sha256
from ocsp.model import StoredCrl
from ocsp.presign import Clock, utc_now
from ocsp.probes import ReadinessCheck
from ocsp.responder import Answer
from policies import OcspPolicy, Policy, default_policy
from policies.urls import (
    ServedPaths,
    at_public_url,
    cps_document,
    for_generation,
    served_paths,
)

_LOG = logging.getLogger(__name__)
T = TypeVar("T")


# -- from a configuration file ------------------------------------------------------


def active_ocsp_policy(
    engine: Engine, material: CaMaterial, *, fallback: Callable[[], Policy] = default_policy
) -> OcspPolicy:
    """``[ocsp]`` of :func:`active_policy`."""
    return active_policy(engine, material, fallback=fallback).ocsp


def active_policy(
    engine: Engine, material: CaMaterial, *, fallback: Callable[[], Policy] = default_policy
) -> Policy:
    """The policy version in force, verified, else *fallback*'s document.

    Read through :class:`issuer.policy_store.ActivePolicy`, the one reader issuance and
    UZI verification use (issue 17): its audit-key signature is checked with the
    ceremony's public key, so a row edited in the database is refused (ZID-1508) and no
    response is ever signed with its timings. Until a version is recorded (first
    issuance), *fallback* applies: the configured document
    (:func:`issuer.policy_store.configured_policy`), which issuance records.
    """
    reader = ActivePolicy(engine, verifier=material.audit_public_key, fallback=fallback)
    return reader.current().policy


@dataclass(frozen=True, kw_only=True)
class OcspRuntime:
    """What ``zorgid ocsp serve|refresh`` needs, built from the engine's config file."""

    config: Config
    engine: Engine
    hsm: Hsm
    material: CaMaterial
    policy: Policy
    """The policy in force at start, its URLs on ``[ocsp] public_url``: the paths served."""
    service: OcspService

    @classmethod
    def open(
        cls, config: Config, *, open_hsm: Callable[[], Hsm], clock: Clock = utc_now
    ) -> OcspRuntime:
        """Open the store, read the verified policy, then log in to the HSM (*open_hsm*,
        ``issuer.wiring.hsm_opener``): a policy row that does not verify (ZID-1508)
        stops the start before any key is touched."""
        engine = create_engine_for(config.database.url)
        try:
            check_schema(engine)
            material = load_ca_material(config.data_dir)
            policy = at_public_url(
                active_policy(engine, material, fallback=lambda: configured_policy(config)),
                config.ocsp.public_url,
            )
        except BaseException:
            engine.dispose()
            raise
        hsm = open_hsm()
        check_keys(material, hsm)  # a responder key that is not its certificate's: refuse
        service = OcspService.build(
            engine=engine,
            material=material,
            hsm=hsm,
            policy=policy.ocsp,
            signature_hash=policy.profile.signature_hash,
            clock=clock,
            cache_seconds=config.ocsp.cache_seconds,
            keep_seconds=config.ocsp.keep_seconds,
            max_on_demand=config.ocsp.max_on_demand,
            max_certids=config.ocsp.max_certids,
            sign_rate=config.ocsp.sign_rate,
            sign_burst=config.ocsp.sign_burst,
        )
        return cls(
            config=config,
            engine=engine,
            hsm=hsm,
            material=material,
            policy=policy,
            service=service,
        )

    def routes(self) -> HttpRoutes:
        """Exactly the paths the certificates' URLs name: every issuing CA generation's
        (:func:`generation_routes`) and, for a self-signed root, the issuing CA
        certificates' (:func:`issuer.ca.published.root_paths`: the ARL, the root)."""
        routes = generation_routes(self.policy, self.material)
        if not root_is_ours(self.material.ca_dir):
            return routes
        crl_paths = dict(routes.crl_paths or {})
        ca_certificates = dict(routes.ca_certificates or {})
        root = root_paths([g.certificate for g in self.material.generations()])
        for path in root.crl:
            _add_route(crl_paths, path, spki_sha256(self.material.root), "the root CRL")
        for path in root.certificate:
            der = self.material.root.public_bytes(Encoding.DER)
            _add_route(ca_certificates, path, der, "the root certificate")
        clash = sorted(set(crl_paths) & set(ca_certificates))
        if clash:
            raise CaMaterialError(
                f"the certificates name {clash[0]!r} both for a CRL and for a CA "
                "certificate; expected distinct paths. Correct the policy's URLs."
            )
        return replace(routes, crl_paths=crl_paths, ca_certificates=ca_certificates)

    def crls(self) -> CrlCache:
        """The issuing CA's CRLs from the store; the root's from ``root.crl`` (:class:`ArlFile`)."""
        root_id = spki_sha256(self.material.root)
        arl = ArlFile(self.material.ca_dir)
        store = self.service.crl_store

        def latest(issuer_id: str) -> StoredCrl | None:
            return arl.get() if issuer_id == root_id else store.latest(issuer_id)

        return CrlCache(latest, ttl=self.config.ocsp.cache_seconds)

    def front(self, *, on_answer: Callable[[Answer], None] | None = None) -> Front:
        """What the HTTP front answers, whatever server carries it; *on_answer* hears each
        OCSP answer (the metrics' counter)."""
        return Front(
            self.service.responder,
            routes=self.routes(),
            crls=self.crls(),
            readiness=readiness_checks(self.engine, self.hsm, self.responder_key_label),
            on_answer=on_answer,
            repeat_log_sample=self.config.ocsp.repeat_log_sample,
        )

    def responder_key_label(self) -> str:
        """The label of the key responses are signed with now (a renewal may change it)."""
        key = self.service.signer.key
        if isinstance(key, HsmPrivateKey):
            return key.label
        return self.material.ocsp_responder_key_label

    def renewal(self, *, clock: Clock = utc_now) -> Callable[[], object]:
        """The renewal checks for the refresher: the responder certificate's (unless
        ``[ocsp] responder_renew_before_days`` is 0), then the root CRL's (when the root
        key is on this token). Their audit events are chained and checkpointed with the
        ceremony's audit key on this process's token; one failing does not stop the other."""
        audit = AuditLog(signer=self.hsm.get_key(self.material.audit_key_label))
        steps: list[Callable[[], object]] = []
        days = self.config.ocsp.responder_renew_before_days
        if days != 0:
            steps.append(
                ResponderRenewal(
                    data_dir=self.config.data_dir,
                    engine=self.engine,
                    hsm=self.hsm,
                    service=self.service,
                    audit=audit,
                    renew_before=timedelta(days=days),
                    clock=clock,
                ).run_once
            )
        steps.append(
            ArlRenewal(
                data_dir=self.config.data_dir,
                engine=self.engine,
                hsm=self.hsm,
                audit=audit,
                clock=clock,
            ).run_once
        )

        def each_pass() -> None:
            for step in steps:
                try:
                    step()
                except Exception:
                    _LOG.exception("renewal check failed; retrying next pass")

        return each_pass

    def follow_responder(self) -> None:
        """Sign with the responder certificate on disk (renewed by another process)."""
        self.service.use_responder(load_ca_material(self.config.data_dir), self.hsm)

    def close(self) -> None:
        self.engine.dispose()
        self.hsm.close()


def readiness_checks(
    engine: Engine, hsm: Hsm, responder_key_label: Callable[[], str]
) -> tuple[ReadinessCheck, ...]:
    """What ``/readyz`` checks (:mod:`ocsp.probes`): the database answers a read of the
    schema's revision row (a real table, so an SQLite file that is gone or a server that
    is down fails it), and the token answers (:meth:`hsm.Hsm.ping`, one quick retry)
    with the responder's key on it."""

    def database() -> None:
        if current_revision(engine) is None:
            raise LookupError("the database has no schema")

    def signing_key() -> None:
        hsm.ping()
        if not hsm.has_key(responder_key_label()):
            raise LookupError("the responder key is not on the token")

    return (
        ReadinessCheck(
            name="database", reason="the database does not answer a read", check=database
        ),
        ReadinessCheck(
            name="hsm",
            reason="the HSM does not answer or the responder key is not on it",
            check=signing_key,
        ),
    )


def _add_route(routes: dict[str, T], path: str, value: T, what: str) -> None:
    """Serve *value* at *path*, refusing a path the policy already uses for something else."""
    if path in routes and routes[path] != value:
        raise CaMaterialError(
            f"the issuing CA certificate names {path!r} for {what}, which the policy's URLs "
            "use for something else; expected distinct paths. Correct the policy's URLs."
        )
    routes[path] = value


def generation_routes(policy: Policy, material: CaMaterial) -> HttpRoutes:
    """The paths the certificates of every issuing CA generation name
    (:func:`policies.urls.served_paths` of :func:`policies.urls.for_generation`): each
    generation's CRL and caIssuers paths, the shared OCSP prefix and CPS."""
    paths = served_paths(policy.profile)
    cps = cps_document(policy, [g.generation for g in material.generations()]).encode()
    crl_paths: dict[str, str] = {}
    ca_certificates: dict[str, bytes] = {}
    for generation in material.generations():
        own = served_paths(for_generation(policy, generation.generation).profile)
        crl_paths[own.crl] = spki_sha256(generation.certificate)
        ca_certificates[own.ca_issuers] = generation.certificate.public_bytes(Encoding.DER)
    return HttpRoutes(
        ocsp_prefix=paths.ocsp,
        crl_paths=crl_paths,
        ca_certificates=ca_certificates,
        documents={path: (cps, "text/plain; charset=utf-8") for path in paths.cps},
    )


def serve_http(
    config: Config,
    *,
    open_hsm: Callable[[], Hsm],
    ready: Callable[[str, int, ServedPaths], None] | None = None,
    stop: threading.Event | None = None,
    refresher: bool = True,
    sock: socket.socket | None = None,
    on_answer: Callable[[Answer], None] | None = None,
) -> None:
    """Run one responder process until *stop* is set (or forever): HTTP plus, if
    *refresher*, the background refresh worker. Publishes a first CRL if none exists.

    *sock*: an already bound listening socket (``zorgid dev`` binds first, so the public
    URL it puts in certificates names the port actually bound); else ``[ocsp] listen``.
    *on_answer* hears each OCSP answer sent (``issuer.metrics.Metrics.ocsp_answer``)."""
    runtime = OcspRuntime.open(config, open_hsm=open_hsm)
    if refresher:
        try:
            runtime.service.crls.publish_due()  # the CRL URL answers from the first request
        except Exception:
            _LOG.exception("could not publish a CRL at start; the refresher retries")
    worker: BackgroundRefresher | None = None
    interval = config.ocsp.refresh_interval_seconds
    if refresher and interval > 0:
        worker = BackgroundRefresher(
            runtime.service, interval=interval, before_each=runtime.renewal()
        )
        worker.start()
    elif interval > 0:  # a further process: sign with the certificate the first one renews
        worker = BackgroundRefresher(
            runtime.service, interval=interval, before_each=runtime.follow_responder, refresh=False
        )
        worker.start()
    host, port = parse_listen(config.ocsp.listen)
    if not config.ocsp.public_url:
        # Not refused: behind a proxy the policy's host is right and differs from the bind.
        _LOG.warning(
            "[ocsp] public_url is not set: certificates name the policy's URLs as written "
            "(OCSP %s) while this front listens on %s",
            runtime.policy.profile.ocsp_url,
            config.ocsp.listen,
        )
    # Imported here: only serving needs granian, not every command that imports this module.
    from ocsp.granian_server import listen, serve
    from ocsp.rsgi import RsgiFront

    stop = stop or threading.Event()
    # granian (issue 23, docs/decisions/ocsp.md): a socket bound here, so a taken address
    # raises OSError before anything serves, as it did with aiohttp.
    try:
        listening = sock or listen(host, port, reuse_port=config.ocsp.processes > 1)
    except BaseException:
        if worker is not None:
            worker.stop()
        runtime.close()
        raise
    bound = int(listening.getsockname()[1])

    def started() -> None:
        if ready is not None:
            ready(host, bound, served_paths(runtime.policy.profile))

    try:
        serve(RsgiFront(runtime.front(on_answer=on_answer)), listening, stop=stop, ready=started)
    finally:
        if sock is None:
            listening.close()
        if worker is not None:
            worker.stop()
        runtime.close()
