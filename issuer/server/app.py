"""The composition root of the gRPC server: config in, a running server out.

Everything the server is made of is wired here and only here (Boulder's
``cmd/*/main.go`` habit): the listener and its mTLS credentials, the one
:class:`~issuer.server.interceptors.GuardInterceptor`, health checking,
reflection, and the services handed in as :class:`ServiceBinding` values.
Servicers of other areas are built by their owners and passed in; this module
knows none of them except the CA service, which needs only files.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import multiprocessing
import multiprocessing.process
import os
import queue as queue_module
import signal
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent import futures
from dataclasses import dataclass, field
from types import FrameType
from typing import TYPE_CHECKING, Any

import grpc
from google.protobuf.descriptor import ServiceDescriptor
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from issuer.api.zorgid.v1 import (
    ca_pb2,
    ca_pb2_grpc,
    certificate_pb2,
    certificate_pb2_grpc,
    enrollment_pb2,
    enrollment_pb2_grpc,
    ocsp_pb2,
    uzi_pb2,
)
from issuer.config import Config
from issuer.server.ca_service import CaCertificateStore, CaServicer
from issuer.server.health import HealthControl
from issuer.server.interceptors import GuardInterceptor
from issuer.server.ocsp_service import Answering, RuntimeResponder
from issuer.server.ocsp_service import add_to_server as ocsp_add_to_server
from issuer.server.roles import METHOD_ROLES, Access, RoleMapper, missing_methods
from issuer.server.uzi_service import add_to_server as uzi_add_to_server
from issuer.uzi.verify import UziVerifier

if TYPE_CHECKING:
    from issuer.audit import CheckpointTimer
    from issuer.issuance.runtime import IssuanceRuntime
    from issuer.server.policy_service import PolicyRuntime

_LOG = logging.getLogger(__name__)

FURTHER_START_SECONDS = 60.0
"""How long ``[server] processes`` > 1 waits for the further processes to serve."""

__all__ = [
    "BindError",
    "BuiltServer",
    "RoleTableError",
    "ServerProcessError",
    "ServiceBinding",
    "audit_checkpoint_timer",
    "build_server",
    "ca_service_binding",
    "default_services",
    "issuance_service_bindings",
    "ocsp_service_binding",
    "policy_service_binding",
    "serve",
    "uzi_service_binding",
]


class BindError(OSError):
    """The configured listen address could not be bound."""


class RoleTableError(ValueError):
    """A registered service has methods the role table does not list (so nobody could call)."""


@dataclass(frozen=True, kw_only=True)
class ServiceBinding:
    """One gRPC service to register: its full name, its methods and how to add it.

    Build one from the generated code with :meth:`from_descriptor`::

        ServiceBinding.from_descriptor(
            ca_pb2.DESCRIPTOR.services_by_name["CaService"],
            lambda server: ca_pb2_grpc.add_CaServiceServicer_to_server(servicer, server),
        )
    """

    name: str
    """Full service name, e.g. ``zorgid.v1.CaService`` (for reflection and health)."""
    methods: tuple[str, ...]
    """Full method names, ``/zorgid.v1.CaService/GetCaCertificates``."""
    add_to: Callable[[grpc.Server], None] = field(repr=False)
    start: Callable[[], None] | None = field(default=None, repr=False)
    """Run by :meth:`BuiltServer.start` before serving (a background worker of the service)."""
    stop: Callable[[], None] | None = field(default=None, repr=False)
    """Run by :meth:`BuiltServer.stop` after the calls drained."""

    @classmethod
    def from_descriptor(
        cls, descriptor: ServiceDescriptor, add_to: Callable[[grpc.Server], None]
    ) -> ServiceBinding:
        return cls(
            name=descriptor.full_name,
            methods=tuple(f"/{descriptor.full_name}/{m.name}" for m in descriptor.methods),
            add_to=add_to,
        )


@dataclass(frozen=True, kw_only=True)
class BuiltServer:
    """A built (not yet started) server, the port it bound and its health switch.

    ``port`` matters when ``[server] listen`` asks for port 0 (tests, several
    engines on one host): only the bind knows the port chosen.
    """

    server: grpc.Server
    port: int
    health: HealthControl
    plaintext: bool
    services: tuple[str, ...]
    bindings: tuple[ServiceBinding, ...] = ()
    audit_checkpoints: CheckpointTimer | None = field(default=None, repr=False)
    """Signs audit checkpoints on a timer and at stop (:func:`audit_checkpoint_timer`)."""

    def start(self) -> None:
        for binding in self.bindings:
            if binding.start is not None:
                binding.start()
        self.server.start()
        if self.audit_checkpoints is not None:
            self.audit_checkpoints.start()

    def stop(self, grace: float | None = None) -> None:
        """Drain: health NOT_SERVING first, then let running calls finish for ``grace`` s;
        then sign a last audit checkpoint over what they appended."""
        self.health.shutdown()
        self.server.stop(grace).wait()
        for binding in self.bindings:
            if binding.stop is not None:
                binding.stop()
        if self.audit_checkpoints is not None:
            self.audit_checkpoints.stop()


def ca_service_binding(config: Config) -> ServiceBinding:
    """``zorgid.v1.CaService`` reading ``<data_dir>/ca/*.pem``."""
    servicer = CaServicer(CaCertificateStore(config.ca_dir))
    # The generated _pb2_grpc module has no type stubs; give its adder a type once.
    add: Callable[[CaServicer, grpc.Server], None] = ca_pb2_grpc.add_CaServiceServicer_to_server
    return ServiceBinding.from_descriptor(
        ca_pb2.DESCRIPTOR.services_by_name["CaService"], lambda server: add(servicer, server)
    )


def ocsp_service_binding(responder: Answering) -> ServiceBinding:
    """``zorgid.v1.OcspService`` over *responder* (built by ``issuer.ocsp_service``)."""
    return ServiceBinding.from_descriptor(
        ocsp_pb2.DESCRIPTOR.services_by_name["OcspService"], ocsp_add_to_server(responder)
    )


def uzi_service_binding(verifier: UziVerifier) -> ServiceBinding:
    """``zorgid.v1.UziService`` over *verifier* (built by ``uzi_service.build_uzi_verifier``).

    The verifier's CRL refresher starts and stops with the server (issue 16).
    """
    binding = ServiceBinding.from_descriptor(
        uzi_pb2.DESCRIPTOR.services_by_name["UziService"], uzi_add_to_server(verifier)
    )
    return dataclasses.replace(binding, start=verifier.start, stop=verifier.stop)


def issuance_service_bindings(
    config: Config,
    *,
    health: HealthControl | None = None,
    runtime: IssuanceRuntime | None = None,
) -> list[ServiceBinding]:
    """``zorgid.v1.EnrollmentService`` and ``zorgid.v1.CertificateService``.

    They share one :class:`IssuanceRuntime` (HSM opened on first use); an
    unavailable HSM flips ``health`` NOT_SERVING until it signs again.
    Imported here, not at module level: importing the server front end loads
    no PKCS#11 (tests/server/test_roles_table.py).
    """
    from issuer.issuance.runtime import HSM_REASON, IssuanceRuntime
    from issuer.server.certificate_service import CertificateServicer
    from issuer.server.enrollment_service import EnrollmentServicer

    def report(ok: bool, why: str) -> None:
        if health is None:
            return
        if ok:
            health.set_serving(HSM_REASON)
        else:
            health.set_not_serving(HSM_REASON)

    shared = runtime or IssuanceRuntime(config, health=report)
    enrol = EnrollmentServicer(shared)
    certs = CertificateServicer(shared)
    add_enrol: Callable[[EnrollmentServicer, grpc.Server], None] = (
        enrollment_pb2_grpc.add_EnrollmentServiceServicer_to_server
    )
    add_certs: Callable[[CertificateServicer, grpc.Server], None] = (
        certificate_pb2_grpc.add_CertificateServiceServicer_to_server
    )
    return [
        ServiceBinding.from_descriptor(
            enrollment_pb2.DESCRIPTOR.services_by_name["EnrollmentService"],
            lambda server: add_enrol(enrol, server),
        ),
        ServiceBinding.from_descriptor(
            certificate_pb2.DESCRIPTOR.services_by_name["CertificateService"],
            lambda server: add_certs(certs, server),
        ),
    ]


def policy_service_binding(
    config: Config, *, runtime: PolicyRuntime | None = None
) -> ServiceBinding:
    """``zorgid.v1.PolicyService`` (issue 7): officers manage policy versions.

    The store is built on first call (HSM audit key, CA material), so the
    server starts without them. Imported here, not at module level, like the
    issuance services.
    """
    from issuer.api.zorgid.v1 import policy_pb2
    from issuer.server.policy_service import PolicyRuntime, policy_service_binding_parts

    return ServiceBinding.from_descriptor(
        policy_pb2.DESCRIPTOR.services_by_name["PolicyService"],
        policy_service_binding_parts(runtime or PolicyRuntime(config)),
    )


def default_services(
    config: Config, *, health: HealthControl | None = None
) -> list[ServiceBinding]:
    """The services ``zorgid serve`` registers (more are added as the flows land).

    Raises ``issuer.store.SchemaOutOfDateError`` (naming ``zorgid db upgrade``)
    when the configured database is not at this code's schema.
    """
    # Issue 5's flows share the issuance runtime and the UZI verifier, which keeps
    # each proof's evidence (issuer.flows.evidence) for the registrations.
    from issuer.issuance.runtime import HSM_REASON, IssuanceRuntime
    from issuer.server.registration_service import build_evidence_verifier, flow_service_bindings

    def report(ok: bool, why: str) -> None:
        if health is not None:
            (health.set_serving if ok else health.set_not_serving)(HSM_REASON)

    runtime = IssuanceRuntime(config, health=report)
    verifier = build_evidence_verifier(config)
    # Refuse to start (ZID-0110) when a configured HSM key is not its certificate's
    # (issue 16 item 8); an HSM away at start is still left to the first call.
    runtime.check_keys()
    return [
        ca_service_binding(config),
        uzi_service_binding(verifier),
        *issuance_service_bindings(config, health=health, runtime=runtime),
        policy_service_binding(config),
        *flow_service_bindings(config, runtime=runtime, verifier=verifier),
        ocsp_service_binding(RuntimeResponder(runtime)),
    ]


def audit_checkpoint_timer(config: Config) -> CheckpointTimer:
    """The server's audit checkpoints: every ``[audit] checkpoint_interval_seconds`` and at stop.

    The key is the ceremony's audit key (as the issuance runtime's), opened on
    the first pass with something to sign, and refused if it is not the
    published ``audit-checkpoint.pub.pem``. Imported here, not at module
    level: importing the server front end loads no PKCS#11.
    """
    from hsm import Hsm
    from issuer.audit import AuditKeyError, CheckpointSigner, CheckpointTimer, key_sha256
    from issuer.ca import load_ca_material
    from issuer.store import shared_engine

    def signer() -> CheckpointSigner:
        material = load_ca_material(config.data_dir)
        hsm = Hsm.open(
            module_path=config.hsm.module,
            token_label=config.hsm.token,
            pin_source=str(config.hsm.pin_source),
        )
        key: CheckpointSigner = hsm.get_key(material.audit_key_label)
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


def _credentials(config: Config) -> grpc.ServerCredentials:
    """mTLS: the server pair plus the client CA bundle, client certificate required.

    ``require_client_auth=True`` makes the handshake itself fail for a client
    without a certificate chaining to ``client_ca`` (RFC 8446 section 4.4.2),
    so an unauthenticated peer never reaches a servicer.
    """
    assert config.tls is not None  # Config.problems() guarantees it when not plaintext
    return grpc.ssl_server_credentials(
        [(config.tls.key.read_bytes(), config.tls.cert.read_bytes())],
        root_certificates=config.tls.client_ca.read_bytes(),
        require_client_auth=True,
    )


def build_server(
    config: Config,
    services: Sequence[ServiceBinding],
    *,
    health: HealthControl | None = None,
    table: Mapping[str, Access] = METHOD_ROLES,
    reuse_port: bool = False,
    audit_checkpoints: CheckpointTimer | None = None,
) -> BuiltServer:
    """Build the server for ``config`` with ``services`` (plus health and reflection).

    ``reuse_port=True`` lets several engine processes of one host share the
    listen port (SO_REUSEPORT, the kernel spreads connections): the way to use
    more than one core, since SoftHSM and the GIL serialise one process.

    Refuses (RoleTableError) when a service has a method missing from
    ``table``: such a method would be refused for everyone at run time, which
    is safe but certainly a mistake worth failing on at start.
    """
    missing = missing_methods((m for s in services for m in s.methods), table)
    if missing:
        raise RoleTableError(
            f"methods without an entry in the role table: {', '.join(missing)}; "
            "add them to METHOD_ROLES in issuer/server/roles.py"
        )
    health = health or HealthControl()
    plaintext = config.server.dev_plaintext
    interceptor = GuardInterceptor(
        table=table,
        mapper=RoleMapper(config.roles.rule),
        plaintext_roles=frozenset(config.server.dev_roles) if plaintext else None,
    )
    limit = config.server.max_message_bytes
    options: list[tuple[str, Any]] = [
        ("grpc.max_receive_message_length", limit),
        ("grpc.max_send_message_length", limit),
        # Two engines must not silently share one port (the second would get half the calls).
        ("grpc.so_reuseport", 1 if reuse_port else 0),
    ]
    server = grpc.server(
        futures.ThreadPoolExecutor(
            max_workers=config.server.workers, thread_name_prefix="zorgid-grpc"
        ),
        interceptors=[interceptor],
        options=options,
    )
    for binding in services:
        binding.add_to(server)
        health.register(binding.name)
    health_pb2_grpc.add_HealthServicer_to_server(health.servicer, server)
    names = (
        *(s.name for s in services),
        health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
        reflection.SERVICE_NAME,
    )
    reflection.enable_server_reflection(names, server)
    try:
        if plaintext:
            _LOG.warning("dev_plaintext: NO TLS on %s (loopback only)", config.server.listen)
            port = server.add_insecure_port(config.server.listen)
        else:
            port = server.add_secure_port(config.server.listen, _credentials(config))
    except RuntimeError:  # grpc's way of saying the bind failed
        port = 0
    if port == 0:
        raise BindError(
            f"cannot listen on {config.server.listen} ([server] listen): the port is in use "
            "or the address is not on this host; choose another listen address"
        )
    return BuiltServer(
        server=server,
        port=port,
        health=health,
        plaintext=plaintext,
        services=tuple(names),
        bindings=tuple(services),
        audit_checkpoints=audit_checkpoints,
    )


class ServerProcessError(RuntimeError):
    """A further server process (``[server] processes``) failed to start or exited."""


def _with_port(config: Config, port: int) -> Config:
    """``config`` listening on ``port`` (the one the first process bound), as one process."""
    host = config.server.listen.rpartition(":")[0]
    server = dataclasses.replace(config.server, listen=f"{host}:{port}", processes=1)
    return dataclasses.replace(config, server=server)


def _further_process(config: Config, log_level: int, ready: Any) -> None:
    """Entry of a further server process (spawned): the default services, on the shared port."""
    logging.basicConfig(
        level=log_level, format="%(asctime)s %(levelname)s %(name)s [%(process)d] %(message)s"
    )

    def serving(built: BuiltServer) -> None:
        _LOG.info("further server process %d serving on port %d", os.getpid(), built.port)
        ready.put(os.getpid())

    _run(config, None, ready=serving, reuse_port=True, further=0, announce=False)


def serve(
    config: Config,
    services: Sequence[ServiceBinding] | None = None,
    *,
    ready: Callable[[BuiltServer], None] | None = None,
) -> None:
    """Run until SIGTERM or SIGINT, then drain for ``shutdown_grace_seconds``.

    With ``[server] processes = N`` > 1 this process binds the port first
    (SO_REUSEPORT; port 0 picks one for all), then starts N-1 further processes
    (spawned, each with its own HSM login and database pool) on the same port and
    reports ready once they all are. A further process that dies stops the
    whole server with :class:`ServerProcessError`, so a supervisor restarts it
    whole rather than it running on at part capacity. Only the default services
    can run in further processes (``services`` must then be None).
    """
    further = config.server.processes - 1
    if further and services is not None:
        raise ValueError(
            f"[server] processes = {config.server.processes} serves the default services only; "
            "got explicit services: use processes = 1"
        )
    _run(config, services, ready=ready, reuse_port=further > 0, further=further)


def _run(
    config: Config,
    services: Sequence[ServiceBinding] | None,
    *,
    ready: Callable[[BuiltServer], None] | None,
    reuse_port: bool,
    further: int,
    announce: bool = True,
) -> None:
    health = HealthControl()
    built = build_server(
        config,
        default_services(config, health=health) if services is None else services,
        health=health,
        reuse_port=reuse_port,
        audit_checkpoints=audit_checkpoint_timer(config),
    )
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        _LOG.info("signal %s: shutting down", signal.Signals(signum).name)
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    children: list[multiprocessing.process.BaseProcess] = []
    failed: str | None = None
    try:
        built.start()
        if further:
            children, failed = _start_further(config, built.port, further, stop)
            if failed is not None:
                _LOG.error("%s: stopping the server", failed)
                stop.set()
        if failed is None and announce:
            host = config.server.listen.rpartition(":")[0]
            mode = "plaintext (dev)" if built.plaintext else "mTLS"
            _LOG.info(
                "serving %s on %s:%d (%s) in %d process(es)",
                ", ".join(built.services),
                host,
                built.port,
                mode,
                1 + len(children),
            )
        if failed is None and ready is not None:
            ready(built)
        while not stop.wait(0.5 if children else None):
            dead = [c for c in children if not c.is_alive()]
            if dead and dead[0].exitcode == 0:  # it was signalled (Ctrl-C reaches them all)
                _LOG.info("server process %s stopped: stopping the server", dead[0].pid)
                stop.set()
            elif dead:
                failed = f"server process {dead[0].pid} exited with code {dead[0].exitcode}"
                _LOG.error("%s: stopping the server", failed)
                stop.set()
    finally:
        for child in children:
            if child.is_alive():
                child.terminate()  # SIGTERM: it drains like this one
        built.stop(config.server.shutdown_grace_seconds)
        for child in children:
            child.join(config.server.shutdown_grace_seconds + 10)
            if child.is_alive():
                child.kill()
                child.join()
        for s, handler in previous.items():
            signal.signal(s, handler)
    if failed is not None:
        raise ServerProcessError(failed)


def _start_further(
    config: Config, port: int, count: int, stop: threading.Event
) -> tuple[list[multiprocessing.process.BaseProcess], str | None]:
    """Spawn ``count`` further processes on ``port``; wait until each serves (or one fails)."""
    context = multiprocessing.get_context("spawn")  # no fork: grpc and the HSM are threaded
    queue = context.Queue()
    shared = _with_port(config, port)
    level = logging.getLogger().getEffectiveLevel()
    children: list[multiprocessing.process.BaseProcess] = [
        context.Process(
            target=_further_process,
            args=(shared, level, queue),
            name=f"zorgid-serve-{i + 2}",
        )
        for i in range(count)
    ]
    for child in children:
        child.start()
    waiting = {c.pid for c in children}
    deadline = time.monotonic() + FURTHER_START_SECONDS
    while waiting and not stop.is_set():
        with contextlib.suppress(queue_module.Empty):
            waiting.discard(queue.get(timeout=0.2))
        dead = [c for c in children if not c.is_alive()]
        if dead:
            return children, f"server process {dead[0].pid} exited with code {dead[0].exitcode}"
        if time.monotonic() > deadline:
            late = f"{len(waiting)} server process(es) not serving"
            return children, f"{late} after {FURTHER_START_SECONDS:.0f} s"
    return children, None
