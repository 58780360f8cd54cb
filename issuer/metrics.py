"""The engine's Prometheus metrics: one registry per process, served on ``[metrics] listen``.

A registry of its own (never prometheus_client's global ``REGISTRY``): what a
scrape shows is exactly what the composition root (:mod:`issuer.wiring`)
registered, and tests build as many engines in one process as they like.
Every label is bounded -- gRPC methods are the registered ones, codes and OCSP
statuses are fixed sets, generations grow by one per CA rollover -- and none
carries a serial, a subject or any other identity (docs/decisions/metrics.md).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

from issuer.config import ListenError

if TYPE_CHECKING:
    from ocsp.responder import Answer

_LOG = logging.getLogger(__name__)

__all__ = [
    "GRPC_SECONDS_BUCKETS",
    "Expiry",
    "Metrics",
    "MetricsBindError",
    "MetricsServer",
    "start_metrics_server",
]

GRPC_SECONDS_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
"""Health and reads answer in about a millisecond, an issuance (an HSM signature, a
database write, lint) in tens of milliseconds; seconds mean a queue or an HSM away."""


@dataclass(frozen=True, kw_only=True)
class Expiry:
    """One certificate the engine depends on and when it stops being valid."""

    certificate: str
    """``root``, ``issuing_ca`` or ``ocsp_responder``."""
    generation: str
    """The issuing CA generation it belongs to; empty for the root."""
    not_after: datetime


class _ExpiryCollector(Collector):
    """Seconds until each certificate's notAfter, read at every scrape.

    Read at scrape time, not at start: a responder certificate renewed or a CA
    rolled over by another process shows up without a restart.
    """

    def __init__(self, certificates: Callable[[], Iterable[Expiry]]) -> None:
        self._certificates = certificates

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            "zorgid_certificate_expiry_seconds",
            "Seconds until notAfter of the root, each issuing CA generation and the OCSP "
            "responder certificate (negative once expired).",
            labels=["certificate", "generation"],
        )
        now = time.time()
        try:
            expiries = list(self._certificates())
        except Exception as exc:  # a scrape still answers, without these gauges
            _LOG.warning("expiry metrics left out: the CA certificates could not be read: %s", exc)
            expiries = []
        for expiry in expiries:
            family.add_metric(
                [expiry.certificate, expiry.generation], expiry.not_after.timestamp() - now
            )
        yield family


class Metrics:
    """The metric objects of one engine process, on their own registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        self.grpc_handled = Counter(
            "zorgid_grpc_server_handled",
            "gRPC calls completed, by full method and status code.",
            ["method", "code"],
            registry=self.registry,
        )
        self.grpc_seconds = Histogram(
            "zorgid_grpc_server_handling_seconds",
            "Time from a gRPC call reaching the server to its status, by full method.",
            ["method"],
            buckets=GRPC_SECONDS_BUCKETS,
            registry=self.registry,
        )
        self.ocsp_responses = Counter(
            "zorgid_ocsp_responses",
            "OCSP responses served over HTTP, by certificate status (the worst of a request's "
            "certificates) or error, and OCSP responseStatus.",
            ["status", "response_status"],
            registry=self.registry,
        )

    def grpc_call(self, method: str, code: str, seconds: float) -> None:
        """Count one finished gRPC call of *method* (a registered full method name)."""
        self.grpc_handled.labels(method=method, code=code).inc()
        self.grpc_seconds.labels(method=method).observe(seconds)

    def ocsp_answer(self, answer: Answer) -> None:
        """Count one OCSP answer served over HTTP (``ocsp.http.build_app``'s *on_answer*)."""
        status = answer.cert_status or "error"
        self.ocsp_responses.labels(status=status, response_status=answer.outcome).inc()

    def watch_expiry(self, certificates: Callable[[], Iterable[Expiry]]) -> None:
        """Export seconds until notAfter of what *certificates* lists at each scrape."""
        self.registry.register(_ExpiryCollector(certificates))


class MetricsBindError(ListenError):
    """The metrics address could not be bound (in use, or not an address of this host)."""


@dataclass(frozen=True, kw_only=True)
class MetricsServer:
    """prometheus_client's HTTP server of one registry, in a daemon thread."""

    host: str
    port: int
    """The port bound (``[metrics] listen`` may ask for port 0)."""
    metrics: Metrics
    _server: WSGIServer
    _thread: threading.Thread

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/metrics"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


def start_metrics_server(metrics: Metrics, host: str, port: int) -> MetricsServer:
    """Serve *metrics* at ``http://host:port/metrics`` until :meth:`MetricsServer.stop`."""
    server, thread = start_http_server(port, addr=host, registry=metrics.registry)
    served = MetricsServer(
        host=host, port=int(server.server_port), metrics=metrics, _server=server, _thread=thread
    )
    _LOG.info("metrics on %s", served.url)
    return served
