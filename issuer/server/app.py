"""The gRPC server: bindings in, a running server out.

The listener and its mTLS credentials, the one
:class:`~issuer.server.interceptors.GuardInterceptor`, health checking,
reflection, draining and ``[server] processes``. The services arrive as
:class:`~issuer.server.binding.ServiceBinding` values built by the composition
root (:mod:`issuer.wiring`); this module builds none of them, so importing it
loads no PKCS#11.
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
from grpc_health.v1 import health_pb2, health_pb2_grpc

from issuer.config import Config, ListenError
from issuer.metrics import Metrics
from issuer.server.binding import ServiceBinding
from issuer.server.call_metrics import MetricsInterceptor
from issuer.server.health import HealthControl
from issuer.server.interceptors import GuardInterceptor
from issuer.server.reflection import enable_reflection
from issuer.server.roles import METHOD_ROLES, Access, RoleMapper, missing_methods

if TYPE_CHECKING:
    from issuer.audit import CheckpointTimer

_LOG = logging.getLogger(__name__)

FURTHER_START_SECONDS = 60.0
"""How long ``[server] processes`` > 1 waits for the further processes to serve."""

ServicesFactory = Callable[[Config, HealthControl], Sequence[ServiceBinding]]
"""Builds a process's services (given its health switch): ``issuer.wiring.default_services``.

A module-level function, so a further process (spawned) can be handed it by name."""

CheckpointsFactory = Callable[[Config], "CheckpointTimer"]
"""Builds a process's audit checkpoint timer: ``issuer.wiring.audit_checkpoint_timer``."""

__all__ = [
    "BindError",
    "BuiltServer",
    "CheckpointsFactory",
    "RoleTableError",
    "ServerProcessError",
    "ServicesFactory",
    "build_server",
    "serve",
]


class BindError(ListenError):
    """The configured listen address could not be bound."""


class RoleTableError(ValueError):
    """A registered service has methods the role table does not list (so nobody could call)."""


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
    """Signs audit checkpoints on a timer and at stop (``issuer.wiring.audit_checkpoint_timer``)."""

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
    metrics: Metrics | None = None,
) -> BuiltServer:
    """Build the server for ``config`` with ``services`` (plus health and reflection).

    ``reuse_port=True`` lets several engine processes of one host share the
    listen port (SO_REUSEPORT, the kernel spreads connections): the way to use
    more than one core, since SoftHSM and the GIL serialise one process.

    *metrics*: every call is counted and timed there (the outermost interceptor, so
    refusals by the guard are counted with the code the caller gets).

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
        interceptors=[*([MetricsInterceptor(metrics)] if metrics else []), interceptor],
        options=options,
    )
    for binding in services:
        binding.add_to(server)
        health.register(binding.name)
    health_pb2_grpc.add_HealthServicer_to_server(health.servicer, server)
    names = enable_reflection(
        (
            *(s.name for s in services),
            health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
        ),
        server,
    )
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


def _further_process(
    config: Config,
    log_level: int,
    ready: Any,
    services: ServicesFactory,
    audit_checkpoints: CheckpointsFactory | None,
) -> None:
    """Entry of a further server process (spawned): the same services, on the shared port."""
    logging.basicConfig(
        level=log_level, format="%(asctime)s %(levelname)s %(name)s [%(process)d] %(message)s"
    )

    def serving(built: BuiltServer) -> None:
        _LOG.info("further server process %d serving on port %d", os.getpid(), built.port)
        ready.put(os.getpid())

    _run(
        config,
        services,
        audit_checkpoints,
        ready=serving,
        reuse_port=True,
        further=0,
        announce=False,
    )


def serve(
    config: Config,
    services: ServicesFactory,
    *,
    audit_checkpoints: CheckpointsFactory | None = None,
    ready: Callable[[BuiltServer], None] | None = None,
    metrics: Metrics | None = None,
) -> None:
    """Run until SIGTERM or SIGINT, then drain for ``shutdown_grace_seconds``.

    *services* (and *audit_checkpoints*) are called in each process: the
    composition root passes ``issuer.wiring.default_services`` and
    ``issuer.wiring.audit_checkpoint_timer`` (``issuer.wiring.serve``).
    With ``[server] processes = N`` > 1 this process binds the port first
    (SO_REUSEPORT; port 0 picks one for all), then starts N-1 further processes
    (spawned, each with its own HSM login and database pool) on the same port and
    reports ready once they all are. A further process that dies stops the
    whole server with :class:`ServerProcessError`, so a supervisor restarts it
    whole rather than it running on at part capacity. *metrics* counts the calls of
    this process (the further processes' are not counted yet).
    """
    further = config.server.processes - 1
    _run(
        config,
        services,
        audit_checkpoints,
        ready=ready,
        reuse_port=further > 0,
        further=further,
        metrics=metrics,
    )


def _run(
    config: Config,
    services: ServicesFactory,
    audit_checkpoints: CheckpointsFactory | None,
    *,
    ready: Callable[[BuiltServer], None] | None,
    reuse_port: bool,
    further: int,
    announce: bool = True,
    metrics: Metrics | None = None,
) -> None:
    health = HealthControl()
    built = build_server(
        config,
        services(config, health),
        health=health,
        reuse_port=reuse_port,
        audit_checkpoints=audit_checkpoints(config) if audit_checkpoints is not None else None,
        metrics=metrics,
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
            children, failed = _start_further(
                config, built.port, further, stop, services, audit_checkpoints
            )
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
    config: Config,
    port: int,
    count: int,
    stop: threading.Event,
    services: ServicesFactory,
    audit_checkpoints: CheckpointsFactory | None,
) -> tuple[list[multiprocessing.process.BaseProcess], str | None]:
    """Spawn ``count`` further processes on ``port``; wait until each serves (or one fails)."""
    context = multiprocessing.get_context("spawn")  # no fork: grpc and the HSM are threaded
    queue = context.Queue()
    shared = _with_port(config, port)
    level = logging.getLogger().getEffectiveLevel()
    children: list[multiprocessing.process.BaseProcess] = [
        context.Process(
            target=_further_process,
            args=(shared, level, queue, services, audit_checkpoints),
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
