"""The engine's Prometheus metrics: one registry per process, served on ``[metrics] listen``.

A registry of its own (never prometheus_client's global ``REGISTRY``): what a
scrape shows is exactly what the composition root (:mod:`issuer.wiring`)
registered, and tests build as many engines in one process as they like.
Every label is bounded -- gRPC methods are the registered ones, codes and OCSP
statuses are fixed sets, generations grow by one per CA rollover, HSM operations
and issuance steps are the code's own names, ZID codes are counted by family --
and none carries a serial, a subject or any other identity
(docs/decisions/metrics.md). The ``hsm``, ``ocsp`` and issuance packages count
nothing themselves: they tell an observer, and :class:`HsmMetrics`,
:class:`IssuanceMetrics` and :meth:`Metrics.ocsp_answer` are the observers the
composition root hands them.
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
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

from issuer.config import ListenError

if TYPE_CHECKING:
    from issuer.issuance.records import IssuanceOutcome, IssuanceStep
    from issuer.uzi_watch_state import WatchState
    from ocsp.responder import Answer

_LOG = logging.getLogger(__name__)

__all__ = [
    "GRPC_SECONDS_BUCKETS",
    "HSM_SECONDS_BUCKETS",
    "STEP_SECONDS_BUCKETS",
    "Expiry",
    "HsmMetrics",
    "IssuanceMetrics",
    "Metrics",
    "MetricsBindError",
    "MetricsServer",
    "StaleReservations",
    "start_metrics_server",
]

GRPC_SECONDS_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
"""Health and reads answer in about a millisecond, an issuance (an HSM signature, a
database write, lint) in tens of milliseconds; seconds mean a queue or an HSM away."""

HSM_SECONDS_BUCKETS = (
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0
)  # fmt: skip
"""SoftHSM signs with P-256 in a fraction of a millisecond, a network HSM in a few to tens
of milliseconds; a login or a re-initialisation takes longer, seconds mean trouble."""

STEP_SECONDS_BUCKETS = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0
)  # fmt: skip
"""An issuance step (a CSR check, a lint, a signature, a commit) takes about a millisecond
to tens of them; a commit waiting for the database writer shows as the slow tail."""

STALE_AFTER_SECONDS = 300.0
"""A reservation still ``reserved`` after this long is stale: an issuance takes milliseconds
(the default of ``zorgid issuance stale --older-than``)."""


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


@dataclass(frozen=True, kw_only=True)
class StaleReservations:
    """Serial reservations still ``reserved`` after :data:`STALE_AFTER_SECONDS`."""

    count: int
    oldest: datetime | None
    """When the oldest was made; ``None`` when there is none."""


class _StaleReservationsCollector(Collector):
    """How many issuances a crash (or a database outage) left half done, read at each scrape."""

    def __init__(self, read: Callable[[float], StaleReservations]) -> None:
        self._read = read

    def collect(self) -> Iterator[Metric]:
        try:
            stale = self._read(STALE_AFTER_SECONDS)
        except Exception as exc:  # a scrape still answers, without these gauges
            _LOG.warning("stale reservation metrics left out: the database did not answer: %s", exc)
            return
        yield GaugeMetricFamily(
            "zorgid_issuance_stale_reservations",
            f"Serial reservations still 'reserved' after {STALE_AFTER_SECONDS:.0f} s: issuances "
            "interrupted between reserving and storing (zorgid issuance stale lists them).",
            value=stale.count,
        )
        age = 0.0 if stale.oldest is None else time.time() - stale.oldest.timestamp()
        yield GaugeMetricFamily(
            "zorgid_issuance_stale_reservation_age_seconds",
            "Age of the oldest stale reservation (0 when there is none).",
            value=age,
        )


class _UziWatchCollector(Collector):
    """The UZI-pas watch's state, read at each scrape (its thread keeps it)."""

    def __init__(self, state: Callable[[], WatchState]) -> None:
        self._state = state

    def collect(self) -> Iterator[Metric]:
        state = self._state()
        yield GaugeMetricFamily(
            "zorgid_uzi_watch_since_success_seconds",
            "Seconds since the UZI-pas watch last completed a pass (since it started, if none "
            "has): while this grows past the interval, revoked UZI-passes go unnoticed.",
            value=state.since_success_seconds,
        )
        passes = CounterMetricFamily(
            "zorgid_uzi_watch_passes",
            "UZI-pas watch passes since start, by result (failed: the pass raised; the log "
            "says why).",
            labels=["result"],
        )
        passes.add_metric(["completed"], state.passes)
        passes.add_metric(["failed"], state.failures)
        yield passes
        yield GaugeMetricFamily(
            "zorgid_uzi_watch_cards",
            "UZI-passes watched (cards a good certificate was issued on) in the last "
            "completed pass.",
            value=state.cards,
        )
        crls = GaugeMetricFamily(
            "zorgid_uzi_watch_crls",
            "CRLs of the last completed pass that could not be used (failed: fetch or check "
            "failed this pass; unavailable: none current for longer than unavailable_limit).",
            labels=["state"],
        )
        crls.add_metric(["failed"], state.crls_failed)
        crls.add_metric(["unavailable"], state.crls_unavailable)
        yield crls


class HsmMetrics:
    """The HSM module's observer (:class:`hsm.HsmObserver`): latency, errors, re-initialisations."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.seconds = Histogram(
            "zorgid_hsm_operation_seconds",
            "Time of one attempt at a PKCS#11 operation, under the module lock (waiting for the "
            "lock not included), by operation.",
            ["operation"],
            buckets=HSM_SECONDS_BUCKETS,
            registry=registry,
        )
        self.errors = Counter(
            "zorgid_hsm_errors",
            "Failed attempts at a PKCS#11 operation, by operation and error (a PKCS#11 return "
            "code's name, or TokenNotFound): a device error is retried after a re-initialisation.",
            ["operation", "error"],
            registry=registry,
        )
        self.reinitializations = Counter(
            "zorgid_hsm_reinitializations",
            "PKCS#11 module re-initialisations (C_Finalize + C_Initialize): each drops every "
            "session; more than a few mean the HSM or its connection is failing.",
            registry=registry,
        )

    def observe(self, operation: str, seconds: float, error: str | None) -> None:
        self.seconds.labels(operation=operation).observe(seconds)
        if error is not None:
            self.errors.labels(operation=operation, error=error).inc()

    def reinitialized(self) -> None:
        self.reinitializations.inc()


def code_family(code: str | None) -> str:
    """``ZID-1205`` -> ``ZID-12xx`` (the catalogue's areas, issuer/errors); ``""`` for none."""
    return f"{code[:6]}xx" if code else ""


class IssuanceMetrics:
    """The issuance cycle's observer (:class:`issuer.issuance.records.IssuanceObserver`)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.outcomes = Counter(
            "zorgid_issuance",
            "Issuance requests by outcome (issued, refused: the request was wrong, failed: the "
            "engine could not) and ZID code family (ZID-12xx: issuance, ZID-00xx/01xx: general "
            "and HSM; empty when issued or for an unexpected error).",
            ["outcome", "family"],
            registry=registry,
        )
        self.seconds = Histogram(
            "zorgid_issuance_step_seconds",
            "Time of each step of the issuance cycle (check, reserve, lint, sign, verify, ocsp, "
            "store; docs/issuance-cycle.md), whether it succeeded or not.",
            ["step"],
            buckets=STEP_SECONDS_BUCKETS,
            registry=registry,
        )

    def step(self, step: IssuanceStep, seconds: float) -> None:
        self.seconds.labels(step=step).observe(seconds)

    def outcome(self, outcome: IssuanceOutcome, code: str | None) -> None:
        self.outcomes.labels(outcome=outcome, family=code_family(code)).inc()


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
            "certificates) or error, OCSP responseStatus, and cache (hit: from the responder's "
            "memory, miss: read from the database or signed now).",
            ["status", "response_status", "cache"],
            registry=self.registry,
        )
        self.ocsp_on_demand = Counter(
            "zorgid_ocsp_on_demand_signatures",
            "OCSP answers that needed a signature now, by reason (stale: the stored response "
            "was missing or old, the refresher is behind; request: a nonce, several CertIDs or "
            "another hash) and result (signed, limited: over sign_rate or max_on_demand, "
            "failed: the HSM said no).",
            ["reason", "result"],
            registry=self.registry,
        )
        self.hsm = HsmMetrics(self.registry)
        self.issuance = IssuanceMetrics(self.registry)

    def grpc_call(self, method: str, code: str, seconds: float) -> None:
        """Count one finished gRPC call of *method* (a registered full method name)."""
        self.grpc_handled.labels(method=method, code=code).inc()
        self.grpc_seconds.labels(method=method).observe(seconds)

    def ocsp_answer(self, answer: Answer) -> None:
        """Count one OCSP answer served over HTTP (``ocsp.front.Front``'s *on_answer*)."""
        status = answer.cert_status or "error"
        cache = "hit" if answer.cached else "miss"
        self.ocsp_responses.labels(status=status, response_status=answer.outcome, cache=cache).inc()
        if answer.on_demand is not None:
            self.ocsp_on_demand.labels(
                reason=answer.on_demand.reason, result=answer.on_demand.result
            ).inc()

    def watch_expiry(self, certificates: Callable[[], Iterable[Expiry]]) -> None:
        """Export seconds until notAfter of what *certificates* lists at each scrape."""
        self.registry.register(_ExpiryCollector(certificates))

    def watch_reservations(self, read: Callable[[float], StaleReservations]) -> None:
        """Export the stale reservations *read* finds (given the age that makes one stale)."""
        self.registry.register(_StaleReservationsCollector(read))

    def watch_uzi_watch(self, state: Callable[[], WatchState]) -> None:
        """Export the UZI-pas watch's *state* at each scrape."""
        self.registry.register(_UziWatchCollector(state))


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
