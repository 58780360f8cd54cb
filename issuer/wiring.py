"""The composition root: the one place that builds what the engine runs on and opens the HSM.

``zorgid serve``, ``zorgid dev``, ``zorgid ocsp`` and the commands that sign
get their runtimes here. Runtimes, flows and servicers receive what they need
(an HSM opener, an engine, a verifier) instead of reaching for it, so how the
engine is put together is read in this one file. The HSM is opened lazily
(``Hsm.open`` keeps one login per process): the server starts, and the flows'
reads answer, while the token is away.

``serve`` is :func:`issuer.server.app.serve` with :func:`default_services`,
:func:`audit_checkpoint_timer` and, on ``[metrics] listen``, :func:`start_metrics`;
:func:`default_services` builds, in order, the issuance runtime
(:func:`issuance_runtime`), the one UZI verifier (:func:`build_evidence_verifier`),
checks the HSM keys, then the policy runtime (:class:`PolicyRuntime`), the flow
dependencies (:func:`flow_deps`) and the bindings of :mod:`issuer.server.binding`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
from collections.abc import Callable
from pathlib import Path

from hsm import Hsm, HsmError, HsmObserver, HsmUnavailable
from issuer.audit import AuditKeyError, AuditLog, CheckpointSigner, CheckpointTimer, key_sha256
from issuer.ca import load_ca_material
from issuer.ca.config import CeremonyConfig
from issuer.config import Config, parse_listen
from issuer.config.watch import WhenUnavailable
from issuer.errors import Code, ZorgIdError
from issuer.flows.common import FlowDeps
from issuer.flows.evidence import EvidenceKeepingVerifier
from issuer.issuance.records import CertificateHooks, HealthReport
from issuer.issuance.runtime import HSM_REASON, IssuanceRuntime
from issuer.metrics import (
    Expiry,
    Metrics,
    MetricsBindError,
    MetricsServer,
    StaleReservations,
    start_metrics_server,
)
from issuer.ocsp_wiring import OcspRuntime
from issuer.periodic import Periodic
from issuer.policy_store import PolicyStore
from issuer.server import app
from issuer.server.binding import (
    ServiceBinding,
    ca_service_binding,
    errors_service_binding,
    flow_service_bindings,
    issuance_service_bindings,
    ocsp_service_binding,
    policy_service_binding,
    uzi_service_binding,
)
from issuer.server.health import HealthControl
from issuer.server.ocsp_service import RuntimeResponder
from issuer.store import Engine, check_schema, current_revision, shared_engine
from issuer.store.certificates import stale_reservation_count
from issuer.store.engine import SQLITE_MIN_FREE_BYTES, sqlite_free_bytes
from issuer.store.uzi import SqlUziChallengeStore
from issuer.uzi.crl import CrlRefresher
from issuer.uzi.policy import policy_source
from issuer.uzi.trust import TrustSet, load_trust_set
from issuer.uzi.validate import ChainValidator
from issuer.uzi.verify import Clock, PolicySource, UziPolicy, UziVerifier, utc_now
from issuer.uzi_watch import UziWatch, WatchSettings
from policies import DEFAULT_POLICY_PATH

__all__ = [
    "HsmOpener",
    "MeteredServices",
    "PolicyRuntime",
    "audit_checkpoint_timer",
    "build_evidence_verifier",
    "build_uzi_verifier",
    "ca_expiries",
    "database_health",
    "default_services",
    "engine_host",
    "flow_deps",
    "health_report",
    "hsm_opener",
    "issuance_runtime",
    "open_ceremony_hsm",
    "open_hsm",
    "open_ocsp_runtime",
    "open_token",
    "serve",
    "stale_reservations",
    "start_metrics",
]

HsmOpener = Callable[[], Hsm]
"""Logs in to a token when called (the process-wide handle: ``Hsm.open`` reuses it)."""


# -- the HSM ----------------------------------------------------------------------------------


def open_hsm(config: Config, observer: HsmObserver | None = None) -> Hsm:
    """The configured token (``[hsm]``), logged in now; *observer* (the metrics' ``hsm``)
    hears every later operation on its module (one per process: every token on it)."""
    hsm = Hsm.open(
        module_path=config.hsm.module,
        token_label=config.hsm.token,
        pin_source=str(config.hsm.pin_source),
        module_environment=config.hsm.environment,
    )
    if observer is not None:
        hsm.module.observer = observer
    return hsm


def hsm_opener(config: Config, observer: HsmObserver | None = None) -> HsmOpener:
    """The configured token, opened when a runtime first needs it (not at start)."""
    return lambda: open_hsm(config, observer)


def open_ceremony_hsm(ceremony: CeremonyConfig) -> Hsm:
    """Open and log in to the token the ceremony file names (PIN from its ``pin_source``)."""
    return Hsm.open(
        module_path=ceremony.hsm.module,
        token_label=ceremony.hsm.token,
        pin_source=ceremony.hsm.pin_source,
        module_environment=ceremony.hsm.environment,
    )


def open_token(uri: str) -> Hsm:
    """A token named by a PKCS#11 URI (the demo's simulated UZI-passes and phones)."""
    return Hsm.open(uri)


# -- runtimes ---------------------------------------------------------------------------------


def health_report(health: HealthControl | None) -> HealthReport | None:
    """The runtime's HSM reports as the server's health: NOT_SERVING while the HSM is away."""
    if health is None:
        return None
    control = health

    def report(ok: bool, why: str) -> None:
        (control.set_serving if ok else control.set_not_serving)(HSM_REASON)

    return report


def issuance_runtime(
    config: Config,
    *,
    health: HealthControl | None = None,
    hooks: CertificateHooks | None = None,
    presign_ocsp: bool = True,
    engine: Engine | None = None,
    clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    metrics: Metrics | None = None,
) -> IssuanceRuntime:
    """The process's issuance runtime on the configured token (opened on first issuance);
    *metrics* hear its HSM operations and its cycles' outcomes and step times."""
    return IssuanceRuntime(
        config,
        open_hsm=hsm_opener(config, metrics.hsm if metrics is not None else None),
        health=health_report(health),
        hooks=hooks,
        presign_ocsp=presign_ocsp,
        engine=engine,
        clock=clock,
        observer=metrics.issuance if metrics is not None else None,
    )


class PolicyRuntime:
    """Builds the :class:`PolicyStore` of a configuration once, on first use (thread-safe).

    Like the issuance runtime it opens the HSM (the audit key) on the first
    call, so the server starts while the HSM is away and the PolicyService
    answers ``UNAVAILABLE`` (ZID-0004) until it can sign.
    """

    def __init__(
        self,
        config: Config,
        *,
        open_hsm: HsmOpener | None = None,
        engine: Engine | None = None,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
        lint: bool = True,
    ) -> None:
        self._config = config
        self._open_hsm = open_hsm or hsm_opener(config)
        self._engine = engine
        self._clock = clock
        self._lint = lint
        self._lock = threading.Lock()
        self._store: PolicyStore | None = None

    def get(self) -> PolicyStore:
        store = self._store
        if store is not None:
            return store
        with self._lock:
            if self._store is None:
                self._store = self._build()
            return self._store

    def _build(self) -> PolicyStore:
        config = self._config
        material = load_ca_material(config.data_dir)
        try:
            signer = self._open_hsm().get_key(material.audit_key_label)
        except HsmUnavailable:
            raise ZorgIdError(Code.ZID_0004, "the HSM could not be opened; retry later") from None
        except HsmError as exc:
            raise ZorgIdError(Code.ZID_0101, f"HSM audit key of the ceremony: {exc}") from None
        path = Path(config.policy.file) if config.policy.file else DEFAULT_POLICY_PATH

        def bootstrap() -> tuple[str, str]:
            return path.read_text(encoding="utf-8"), str(path)

        return PolicyStore(
            self._engine or shared_engine(config.database.url),
            audit=AuditLog(signer=signer, clock=self._clock),
            signer=signer,
            verifier=material.audit_public_key,
            issuer_cert=material.issuing_ca,
            bootstrap=bootstrap,
            clock=self._clock,
            lint=self._lint,
        )


def build_uzi_verifier(
    config: Config,
    *,
    engine: Engine | None = None,
    policy: UziPolicy | PolicySource | None = None,
    validator: ChainValidator | None = None,
    refresher: CrlRefresher | None = None,
    clock: Clock = utc_now,
) -> UziVerifier:
    """The process's one verifier: store on ``[database] url``, rules of the active version.

    Raises :class:`issuer.store.SchemaOutOfDateError` (its message names
    ``zorgid db upgrade``) when the database is not at this code's schema.
    ``policy``, ``validator``, ``refresher`` and ``clock`` are for tests and
    tools; a server takes the defaults (``issuer.uzi.policy.policy_source``).
    The verifier's CRL refresher runs with the server
    (``issuer.server.binding.uzi_service_binding``).
    """
    engine = engine if engine is not None else shared_engine(config.database.url)
    check_schema(engine)
    return UziVerifier(
        policy=policy if policy is not None else policy_source(config, engine),
        store=SqlUziChallengeStore(engine, clock=clock),
        validator=validator,
        refresher=refresher,
        clock=clock,
    )


def build_evidence_verifier(
    config: Config,
    *,
    engine: Engine | None = None,
    policy: UziPolicy | PolicySource | None = None,
    validator: ChainValidator | None = None,
    clock: Clock = utc_now,
) -> EvidenceKeepingVerifier:
    """Like :func:`build_uzi_verifier`, keeping each proof's evidence for the registrations.

    The rules follow the active policy version per request (issue 7): the
    UziService and the flows share this one verifier (:func:`default_services`).
    """
    engine = engine if engine is not None else shared_engine(config.database.url)
    check_schema(engine)
    return EvidenceKeepingVerifier(
        engine=engine,
        policy=policy if policy is not None else policy_source(config, engine),
        store=SqlUziChallengeStore(engine, clock=clock),
        validator=validator,
        clock=clock,
    )


def uzi_watch(
    config: Config,
    runtime: IssuanceRuntime,
    *,
    trust: Callable[[], TrustSet] | None = None,
    clock: Clock = utc_now,
) -> UziWatch:
    """The UZI-pas watch on the runtime's database, trust set of the policy in force.

    The runtime's HSM (audit key, OCSP responder) is opened only when a card
    turns out revoked or a CRL is reported unavailable. ``trust`` is for tests.
    """
    source = policy_source(config, runtime.engine)
    return UziWatch(
        engine=runtime.engine,
        trust=trust or (lambda: load_trust_set(source().trust_set)),
        issuance=runtime.get,
        settings=WatchSettings(
            interval=dt.timedelta(seconds=config.uzi_watch.interval_seconds),
            unavailable_limit=dt.timedelta(seconds=config.uzi_watch.unavailable_limit_seconds),
            suspend=config.uzi_watch.when_unavailable is WhenUnavailable.SUSPEND,
        ),
        clock=clock,
    )


def engine_host(config: Config) -> str:
    """What the QR codes name as the engine (``h=``): ``[server] public_host`` or the listen."""
    public = getattr(config.server, "public_host", None)
    return str(public) if public else str(config.server.listen)


def flow_deps(
    config: Config,
    *,
    runtime: IssuanceRuntime,
    verifier: EvidenceKeepingVerifier,
    clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    host: str | None = None,
) -> FlowDeps:
    """What the four flow services share: the runtime's engine (reads without the HSM),
    its issuance (HSM on first use) and chain, and the one UZI verifier."""
    return FlowDeps(
        engine=runtime.engine,
        issuance=runtime.get,
        policy=runtime.active_policy,
        chain=runtime.chain_der,
        verifier=verifier,
        host=host or engine_host(config),
        clock=clock,
    )


def open_ocsp_runtime(config: Config, *, clock: Clock = utc_now) -> OcspRuntime:
    """What ``zorgid ocsp refresh|crl`` work with: store, verified policy, responder key."""
    return OcspRuntime.open(config, open_hsm=hsm_opener(config), clock=clock)


# -- the server -------------------------------------------------------------------------------


DATABASE_REASON = "database unavailable"
DATABASE_CHECK_SECONDS = 1.0
"""How often a server process asks its database whether it answers (health)."""


def database_health(engine: Engine, health: HealthControl) -> Periodic:
    """Health NOT_SERVING while the database does not answer a read of the schema's
    revision row, or SQLite's file system is all but full, SERVING again at the first
    pass that finds neither (docs/operations.md): a balancer takes the process out of
    rotation while PostgreSQL is down or restarting or SQLite cannot write, and back
    within a pass of its return, without a restart."""

    def check() -> None:
        try:
            current_revision(engine)
            free = sqlite_free_bytes(engine)
        except Exception:  # whatever the driver raises, the database does not answer
            health.set_not_serving(DATABASE_REASON)
            return
        if free is not None and free < SQLITE_MIN_FREE_BYTES:  # reads work, writes fail
            health.set_not_serving(DATABASE_REASON)
            return
        health.set_serving(DATABASE_REASON)

    return Periodic("database health", check, interval=DATABASE_CHECK_SECONDS)


def default_services(
    config: Config, health: HealthControl | None = None, *, metrics: Metrics | None = None
) -> list[ServiceBinding]:
    """The services ``zorgid serve`` registers, on one issuance runtime and one UZI verifier.

    Raises ``issuer.store.SchemaOutOfDateError`` (naming ``zorgid db upgrade``)
    when the configured database is not at this code's schema, and ZID-0110
    when a configured HSM key is not its certificate's (issue 16 item 8); an
    HSM away at start is left to the first call. *metrics* hear the HSM, the
    issuance cycles and the UZI-pas watch.
    """
    runtime = issuance_runtime(config, health=health, metrics=metrics)
    catalogue = errors_service_binding()
    if health is not None:
        # The database check lives as long as the server: the catalogue's binding, which
        # has no start or stop of its own, carries it.
        checker = database_health(runtime.engine, health)
        catalogue = dataclasses.replace(catalogue, start=checker.start, stop=checker.stop)
    verifier = build_evidence_verifier(config)
    runtime.check_keys()
    watch = uzi_watch(config, runtime) if config.uzi_watch.enabled else None
    if watch is not None and metrics is not None:
        metrics.watch_uzi_watch(watch.state)
    observer = metrics.hsm if metrics is not None else None
    return [
        ca_service_binding(config),
        catalogue,
        uzi_service_binding(verifier, watch=watch),
        *issuance_service_bindings(runtime),
        policy_service_binding(PolicyRuntime(config, open_hsm=hsm_opener(config, observer)).get),
        *flow_service_bindings(flow_deps(config, runtime=runtime, verifier=verifier)),
        ocsp_service_binding(RuntimeResponder(runtime)),
    ]


def audit_checkpoint_timer(config: Config) -> CheckpointTimer:
    """The server's audit checkpoints: every ``[audit] checkpoint_interval_seconds`` and at stop.

    The key is the ceremony's audit key (as the issuance runtime's), opened on
    the first pass with something to sign, and refused if it is not the
    published ``audit-checkpoint.pub.pem``.
    """

    def signer() -> CheckpointSigner:
        material = load_ca_material(config.data_dir)
        key: CheckpointSigner = open_hsm(config).get_key(material.audit_key_label)
        if key_sha256(key.public_key()) != key_sha256(material.audit_public_key):
            raise AuditKeyError(
                f"HSM key {material.audit_key_label!r} is not the published audit key; "
                "checkpoints it signed would not verify"
            )
        return key

    return CheckpointTimer(
        engine=shared_engine(config.database.url),
        signer=signer,
        interval=config.audit.checkpoint_interval_seconds,
    )


class MeteredServices:
    """:func:`default_services` hearing *metrics*: what :func:`serve` hands the server.

    A further server process (``[server] processes`` > 1, spawned) gets this by pickling;
    its own memory would hold counts nobody scrapes, so it gets the services without
    metrics (docs/decisions/metrics.md, "Left for later").
    """

    def __init__(self, metrics: Metrics | None) -> None:
        self._metrics = metrics

    def __call__(self, config: Config, health: HealthControl) -> list[ServiceBinding]:
        return default_services(config, health, metrics=self._metrics)

    def __reduce__(self) -> tuple[type[MeteredServices], tuple[None]]:
        return (MeteredServices, (None,))


def stale_reservations(config: Config) -> Callable[[float], StaleReservations]:
    """The configured database's stale reservations, counted at each scrape (one query)."""

    def read(older_than_seconds: float) -> StaleReservations:
        cutoff = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=older_than_seconds)
        count, oldest = stale_reservation_count(
            shared_engine(config.database.url), older_than=cutoff
        )
        return StaleReservations(count=count, oldest=oldest)

    return read


def ca_expiries(data_dir: Path) -> Callable[[], list[Expiry]]:
    """The root, each issuing CA generation and the OCSP responder certificate of *data_dir*.

    Read again at each scrape (the material is files, no HSM): a responder
    certificate renewed or a generation added by another process is seen at once.
    """

    def read() -> list[Expiry]:
        material = load_ca_material(data_dir)
        return [
            Expiry(certificate="root", generation="", not_after=material.root.not_valid_after_utc),
            *(
                Expiry(
                    certificate="issuing_ca",
                    generation=str(g.generation),
                    not_after=g.certificate.not_valid_after_utc,
                )
                for g in material.generations()
            ),
            Expiry(
                certificate="ocsp_responder",
                generation=str(material.generation),
                not_after=material.ocsp_responder.not_valid_after_utc,
            ),
        ]

    return read


def start_metrics(config: Config, *, listen: str | None = None) -> MetricsServer | None:
    """The process's metrics, served on *listen* (default ``[metrics] listen``; ``zorgid
    ocsp serve`` passes ``[metrics] ocsp_listen``); ``None`` when it is empty.

    Raises :class:`issuer.metrics.MetricsBindError` when the address cannot be bound.
    """
    key = "listen" if listen is None else "ocsp_listen"
    listen = config.metrics.listen if listen is None else listen
    if not listen:
        return None
    metrics = Metrics()
    metrics.watch_expiry(ca_expiries(config.data_dir))
    if key == "listen":  # the engine's; zorgid ocsp serve does not issue
        metrics.watch_reservations(stale_reservations(config))
    host, port = parse_listen(listen)
    try:
        return start_metrics_server(metrics, host, port)
    except OSError as exc:
        raise MetricsBindError(
            f"cannot listen on {listen} ([metrics] {key}): {exc.strerror or exc}; "
            "choose another address"
        ) from None


def serve(
    config: Config,
    *,
    ready: Callable[[app.BuiltServer], None] | None = None,
    metrics: MetricsServer | None = None,
) -> None:
    """``zorgid serve`` and ``zorgid dev``: the default services, in every server process.

    *metrics*: the metrics already started (``zorgid dev`` shares them with its OCSP
    front); else :func:`start_metrics` of *config*, stopped when the server stops.
    """
    own = metrics is None
    served = start_metrics(config) if own else metrics
    try:
        app.serve(
            config,
            MeteredServices(served.metrics if served is not None else None),
            audit_checkpoints=audit_checkpoint_timer,
            ready=ready,
            metrics=served.metrics if served is not None else None,
        )
    finally:
        if own and served is not None:
            served.stop()
