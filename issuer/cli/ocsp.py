"""``zorgid ocsp serve|refresh|crl``: the OCSP responder and CRL distribution (issue 6).

``serve`` runs the HTTP responder (RFC 5019 GET and POST, CRL and CA certificate
paths) with the background refresher; ``[ocsp] processes`` > 1 starts that many
processes on one port (SO_REUSEPORT), each with its own HSM login and database
pool, one of them refreshing. ``refresh`` re-signs everything due now, with a
progress bar on a terminal, and exits (for cron, or after an outage). ``crl`` publishes a new
CRL at once.
"""

from __future__ import annotations

import argparse
import multiprocessing
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from issuer.cli.progress import progress
from issuer.config import Config, load_config
from issuer.logs import LogSettings, configure, settings_for
from issuer.logs import add_arguments as add_log_arguments
from policies.urls import ServedPaths

EXIT_OK = 0
EXIT_FAILED = 1


def _child(config_path: str, log: LogSettings) -> None:
    """A further responder process: serve without refreshing until terminated."""
    from issuer.ocsp_wiring import serve_http
    from issuer.wiring import hsm_opener

    configure(log, pid=True)
    config = load_config(Path(config_path))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    serve_http(config, open_hsm=hsm_opener(config), stop=stop, refresher=False)


def _serve(args: argparse.Namespace) -> int:
    from issuer.cli.failures import Exit
    from issuer.config import ListenError
    from issuer.ocsp_wiring import serve_http
    from issuer.wiring import hsm_opener, start_metrics

    config: Config = load_config(args.config)
    log = settings_for(config.log, args)
    configure(log)
    try:  # before the further processes: a taken address stops nothing half-started
        metrics = start_metrics(config, listen=config.metrics.ocsp_listen)  # this process's
    except ListenError as exc:  # exit 4, as every taken address (docs/cli.md)
        print(f"{args.config}: not starting: {exc}", file=sys.stderr)
        return Exit.UNREACHABLE
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    context = multiprocessing.get_context("spawn")
    children = [
        context.Process(target=_child, args=(str(args.config), log), daemon=True)
        for _ in range(config.ocsp.processes - 1)
    ]
    for child in children:
        child.start()

    def ready(host: str, port: int, paths: ServedPaths) -> None:
        print(
            f"zorgid ocsp: serving http://{host}:{port}{paths.ocsp} "
            f"({config.ocsp.processes} process(es)); CRL at {paths.crl}",
            flush=True,
        )

    try:
        serve_http(
            config,
            open_hsm=hsm_opener(config, metrics.metrics.hsm if metrics is not None else None),
            ready=ready,
            stop=stop,
            on_answer=metrics.metrics.ocsp_answer if metrics is not None else None,
        )
    finally:
        for child in children:
            child.terminate()
        for child in children:
            child.join(5)
        if metrics is not None:
            metrics.stop()
    return EXIT_OK


def _refresh(args: argparse.Namespace) -> int:
    from issuer.wiring import open_ocsp_runtime

    runtime = open_ocsp_runtime(load_config(args.config))
    try:
        with progress("re-signing OCSP responses", total=0) as update:
            report = runtime.service.refresh(batch=args.batch, progress=update)
    finally:
        runtime.close()
    print(f"signed {report.signed}, kept newer {report.kept_newer}, failed {report.failed}")
    return EXIT_FAILED if report.failed else EXIT_OK


def _crl(args: argparse.Namespace) -> int:
    from issuer.wiring import open_ocsp_runtime

    runtime = open_ocsp_runtime(load_config(args.config))
    try:
        for ca in runtime.service.issuers.all():
            crl = runtime.service.crls.publish(ca.issuer_id)
            print(
                f"issuer {ca.issuer_id[:16]}...: CRL number {crl.number}, "
                f"nextUpdate {crl.next_update.isoformat()}"
            )
    finally:
        runtime.close()
    return EXIT_OK


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("ocsp", help="OCSP responder and CRLs (RFC 6960 / RFC 5019)")
    sub = parser.add_subparsers(dest="ocsp_command", required=True, metavar="ACTION")
    serve = sub.add_parser("serve", help="serve OCSP and CRLs over HTTP ([ocsp] of the config)")
    serve.add_argument("--config", type=Path, required=True, metavar="FILE")
    add_log_arguments(serve)
    serve.set_defaults(func=_serve)
    refresh = sub.add_parser("refresh", help="re-sign every response and CRL that is due now")
    refresh.add_argument("--config", type=Path, required=True, metavar="FILE")
    refresh.add_argument(
        "--batch", type=int, default=1000, help="certificates per database read (default 1000)"
    )
    refresh.set_defaults(func=_refresh)
    crl = sub.add_parser("crl", help="sign and publish a new CRL now")
    crl.add_argument("--config", type=Path, required=True, metavar="FILE")
    crl.set_defaults(func=_crl)
