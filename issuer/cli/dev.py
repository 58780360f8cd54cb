"""``zorgid dev``: the engine on its embedded default (what ``make run`` runs).

``zorgid dev`` prepares ``./var`` on first start (token, ceremony, transport
credentials, configuration, database) and serves; ``zorgid dev health``
asks a running development engine for its health over mTLS, as a caller
with one of the development role certificates.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from issuer.dev.pki import CLIENTS
from issuer.logs import add_arguments as add_log_arguments
from issuer.logs import configure, settings_for

if TYPE_CHECKING:
    from issuer.config import Config
    from issuer.metrics import MetricsServer

DEFAULT_ROOT = Path("var")


def _serve(args: argparse.Namespace) -> int:
    from issuer.cli.failures import CliFailure, Exit
    from issuer.config import ConfigError, MetricsConfig, load_config
    from issuer.dev.environment import (
        claim,
        how_to_call,
        prepare,
        start_ocsp_http,
        with_public_url,
    )
    from issuer.dev.listen import ListenRefused, plan
    from issuer.server.app import BuiltServer
    from issuer.wiring import serve

    root = Path(args.data_dir)
    existing = root / "zorgid.toml"
    # [log] of an existing environment from the first line on; a first start logs its
    # preparation with the command line's (or the default) settings.
    try:
        log = load_config(existing).log if existing.is_file() else None
    except ConfigError:
        log = None  # prepare() reports the file's problems
    configure(settings_for(log, args))
    # Every address is taken or checked before anything is made: a taken port
    # must not leave a half-made var/. The OCSP/CRL front is bound here and kept: the first
    # start's ceremony names the root certificate and the root's CRL on the address
    # actually bound, as the engine's certificates name OCSP, CRL and CPS.
    try:
        listen = plan(root, listen=args.listen, ocsp_listen=args.ocsp_listen)
        bound, metrics_taken = claim(listen)
    except ListenRefused as exc:
        status = Exit.USAGE if exc.usage else Exit.UNREACHABLE
        raise CliFailure(status, exc.message, exc.solution) from None
    if metrics_taken:
        logging.getLogger(__name__).warning("%s", metrics_taken)
    env = prepare(root, listen=listen, public_url=bound.public_url)
    # Relying parties need OCSP and the CRL as soon as a certificate exists: serve them beside
    # the gRPC API, and issue certificates whose URLs name the address actually bound.
    metrics = None if metrics_taken else _start_metrics(load_config(env.config_file))
    try:
        ocsp_http = start_ocsp_http(
            env, bound=bound, on_answer=metrics.metrics.ocsp_answer if metrics else None
        )
        config = with_public_url(load_config(env.config_file), ocsp_http.public_url)
        # Started above, for both: serve must not start them again.
        config = dataclasses.replace(config, metrics=MetricsConfig())

        def ready(built: BuiltServer) -> None:
            if metrics is not None:
                print(f"metrics     {metrics.url}", flush=True)
            print(how_to_call(env, built.port), flush=True)

        try:
            serve(config, ready=ready, metrics=metrics)
        finally:
            ocsp_http.stop()
    finally:
        if metrics is not None:
            metrics.stop()
    return 0


def _start_metrics(config: Config) -> MetricsServer | None:
    """One metrics endpoint for the gRPC server and the OCSP front (one process, issue 21).

    A development engine whose metrics port is taken (another engine on this host)
    serves without metrics, saying so; ``zorgid serve`` refuses to start instead.
    """
    from issuer.metrics import MetricsBindError
    from issuer.wiring import start_metrics

    try:
        return start_metrics(config)
    except MetricsBindError as exc:
        logging.getLogger(__name__).warning("%s; serving without metrics", exc)
        return None


def _health(args: argparse.Namespace) -> int:
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    from issuer.cli.failures import CliFailure, Exit, from_rpc
    from issuer.config import load_config
    from issuer.dev.pki import DevPki

    root = Path(args.data_dir).resolve()
    if not (root / "zorgid.toml").is_file():
        raise CliFailure(
            Exit.FILE,
            f"no development environment in {root} (no zorgid.toml)",
            "start one with `make run` (zorgid dev), or give its --data-dir",
        )
    config = load_config(root / "zorgid.toml")
    pki = DevPki(root=root / "tls")
    credentials = grpc.ssl_channel_credentials(
        root_certificates=pki.client_ca_cert.read_bytes(),
        private_key=pki.client_key(args.role).read_bytes(),
        certificate_chain=pki.client_cert(args.role).read_bytes(),
    )
    port = config.server.listen.rpartition(":")[2]
    target = f"localhost:{port}"
    with grpc.secure_channel(target, credentials) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        try:
            reply = stub.Check(health_pb2.HealthCheckRequest(service=args.service), timeout=5)
        except grpc.RpcError as exc:
            raise from_rpc(exc, target) from None
    status = health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
    print(f"{target} ({args.service or 'server'}): {status}")
    return Exit.OK if reply.status == health_pb2.HealthCheckResponse.SERVING else Exit.PROBLEM


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``zorgid dev`` and ``zorgid dev health``."""
    dev = subparsers.add_parser(
        "dev", help="run the engine on its embedded default (SoftHSM + SQLite under ./var)"
    )
    dev.add_argument("--data-dir", default=str(DEFAULT_ROOT), help="default: ./var")
    dev.add_argument(
        "--listen",
        default=None,
        metavar="HOST:PORT",
        help="gRPC address; default: [server] listen of the config (first start: "
        "127.0.0.1:50051); given, it is written there for later starts",
    )
    dev.add_argument(
        "--ocsp-listen",
        default=None,
        metavar="HOST:PORT",
        help="OCSP/CRL HTTP address; default: [ocsp] listen of the config (first start: "
        "127.0.0.1:8080); given, it is written there for later starts. The CA certificates "
        "name the first start's address: a later move is warned about",
    )
    add_log_arguments(dev)
    dev.set_defaults(func=_serve)
    sub = dev.add_subparsers(dest="dev_command", required=False, metavar="ACTION")
    health = sub.add_parser("health", help="ask the running development engine for its health")
    health.add_argument(
        "--role", choices=CLIENTS, default="auditor", help="the client certificate to call with"
    )
    health.add_argument("--service", default="", help="a service name; default: the server")
    health.set_defaults(func=_health)
