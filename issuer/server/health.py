"""Health reporting (``grpc.health.v1``) and the switch other parts flip.

Load balancers and orchestrators ask ``Health/Check`` or ``Health/Watch``
whether to send traffic here. When the HSM fails, the HSM layer must be able
to say NOT_SERVING *without* knowing about gRPC (ARCHITECTURE section 4: the
service answers UNAVAILABLE and health says NOT_SERVING until the module is
re-initialised). So the rest of the engine gets a :class:`HealthControl`
(or just its bound methods as callbacks) and never touches the servicer.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from grpc_health.v1 import health, health_pb2

_LOG = logging.getLogger(__name__)

OVERALL = ""
"""The service name that stands for the whole server (grpc health checking protocol)."""


class ListingHealthServicer(health.HealthServicer):
    """grpcio-health-checking's servicer plus ``Health/List``, which its 1.85 lacks.

    The library's servicer answers ``Check`` and ``Watch`` from a private table; ``List``
    (added to the protocol in 2024) falls through to the generated base and fails. So this
    subclass keeps its own copy of every status it is given (through the public ``set`` and
    ``enter_graceful_shutdown``) and answers ``List`` from it, without reading the
    library's internals.
    """

    def __init__(self) -> None:
        super().__init__()
        self._listed_lock = threading.Lock()
        self._listed: dict[str, int] = {OVERALL: health_pb2.HealthCheckResponse.SERVING}
        self._closing = False

    def set(self, service: str, status: int) -> None:
        """Set ``service``'s status (ignored after graceful shutdown, like the library)."""
        with self._listed_lock:
            if not self._closing:
                self._listed[service] = status
        super().set(service, status)

    def enter_graceful_shutdown(self) -> None:
        """Every service NOT_SERVING for good (``List`` says so too)."""
        with self._listed_lock:
            self._closing = True
            for service in self._listed:
                self._listed[service] = health_pb2.HealthCheckResponse.NOT_SERVING
        super().enter_graceful_shutdown()

    def List(
        self, request: health_pb2.HealthListRequest, context: Any
    ) -> health_pb2.HealthListResponse:
        """Every known service's status; the whole server's under ``""``."""
        with self._listed_lock:
            snapshot = dict(self._listed)
        reply = health_pb2.HealthListResponse()
        for service, status in snapshot.items():
            reply.statuses[service].status = status
        return reply


class HealthControl:
    """Thread-safe serving / not-serving switch over the grpc health servicer.

    ``set_not_serving(reason)`` marks the whole server and every registered
    service NOT_SERVING; ``set_serving()`` marks them SERVING again. Reasons are
    logged (they must not contain secrets) and kept for ``reasons``; each
    distinct reason must be cleared by ``set_serving(reason)`` or all at once by
    ``set_serving()``, so two independent failures (HSM, database) do not
    mask each other.
    """

    def __init__(self) -> None:
        self.servicer = ListingHealthServicer()
        self._lock = threading.Lock()
        self._services: set[str] = {OVERALL}
        self._reasons: set[str] = set()

    def register(self, service: str) -> None:
        """Report ``service`` (full name, e.g. ``zorgid.v1.CaService``) with the server."""
        with self._lock:
            self._services.add(service)
            self._apply()

    def set_not_serving(self, reason: str) -> None:
        """Stop attracting traffic because of ``reason`` (e.g. "HSM unavailable")."""
        with self._lock:
            if reason not in self._reasons:
                _LOG.warning("health: NOT_SERVING (%s)", reason)
            self._reasons.add(reason)
            self._apply()

    def set_serving(self, reason: str | None = None) -> None:
        """Clear ``reason`` (or every reason); SERVING again once none is left."""
        with self._lock:
            if reason is None:
                self._reasons.clear()
            else:
                self._reasons.discard(reason)
            if not self._reasons:
                _LOG.info("health: SERVING")
            self._apply()

    @property
    def serving(self) -> bool:
        with self._lock:
            return not self._reasons

    @property
    def reasons(self) -> frozenset[str]:
        with self._lock:
            return frozenset(self._reasons)

    def shutdown(self) -> None:
        """Say NOT_SERVING for good, so balancers drain us before the server stops."""
        self.servicer.enter_graceful_shutdown()

    def _apply(self) -> None:
        status = (
            health_pb2.HealthCheckResponse.NOT_SERVING
            if self._reasons
            else health_pb2.HealthCheckResponse.SERVING
        )
        for service in self._services:
            self.servicer.set(service, status)
