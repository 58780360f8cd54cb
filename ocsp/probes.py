"""Liveness and readiness of the OCSP/CRL front: ``GET /healthz`` and ``GET /readyz``.

A load balancer or systemd needs two different answers (docs/operations.md):

- *live* (``/healthz``): the process answers HTTP at all; 200 whenever the event loop
  runs. Restart the process only when this fails.
- *ready* (``/readyz``): it can answer what it is asked -- the database answers a read
  (certificate status, CRLs) and the responder's signing key is usable on the HSM.
  503 takes it out of rotation until it is back; no restart needed.

This package knows neither the store nor the HSM (it must not import ``issuer``), so
the checks arrive as :class:`ReadinessCheck` values from the composition root
(``issuer.ocsp_wiring``). A failing check is reported by its name and fixed reason only:
an exception's text (a database URL, a token label) never reaches the answer, and the
log gets its type name only.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass

__all__ = [
    "LIVE_PATH",
    "READY_PATH",
    "READY_TIMEOUT_SECONDS",
    "ReadinessCheck",
    "failed_checks",
]

_LOG = logging.getLogger(__name__)

LIVE_PATH = "/healthz"
READY_PATH = "/readyz"
READY_TIMEOUT_SECONDS = 5.0
"""A check that has not answered by then counts as failed: a hung database must make the
probe say 503, not hang the balancer's probe until its own timeout."""


@dataclass(frozen=True, kw_only=True)
class ReadinessCheck:
    """One condition for serving: ``check()`` returns when it holds and raises when not."""

    name: str
    """Short, stable key in the 503 answer, e.g. ``"database"``."""
    reason: str
    """What the 503 answer says when it fails; fixed text, never from the exception."""
    check: Callable[[], object]


def failed_checks(
    checks: Sequence[ReadinessCheck], executor: Executor, timeout: float = READY_TIMEOUT_SECONDS
) -> dict[str, str]:
    """Name -> reason of each check that fails or has not answered within *timeout*; the
    checks run together in *executor* (blocks the calling thread up to *timeout*)."""
    futures = [(check, executor.submit(check.check)) for check in checks]
    deadline = time.monotonic() + timeout
    failed: dict[str, str] = {}
    for check, future in futures:
        try:
            future.result(timeout=max(0.0, deadline - time.monotonic()))
        except FutureTimeout:
            _LOG.warning("readiness: %s check timed out after %.1f s", check.name, timeout)
            failed[check.name] = check.reason
        except Exception as exc:  # any failure means not ready; its text may hold secrets
            _LOG.warning("readiness: %s check failed (%s)", check.name, type(exc).__name__)
            failed[check.name] = check.reason
    return failed
