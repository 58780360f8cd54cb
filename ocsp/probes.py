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

import asyncio
import json
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass

from aiohttp import web

__all__ = [
    "LIVE_PATH",
    "READY_PATH",
    "READY_TIMEOUT_SECONDS",
    "ReadinessCheck",
    "live",
    "ready",
]

_LOG = logging.getLogger(__name__)

LIVE_PATH = "/healthz"
READY_PATH = "/readyz"
READY_TIMEOUT_SECONDS = 5.0
"""A check that has not answered by then counts as failed: a hung database must make the
probe say 503, not hang the balancer's probe until its own timeout."""

_HEADERS = {"Cache-Control": "no-store"}


@dataclass(frozen=True, kw_only=True)
class ReadinessCheck:
    """One condition for serving: ``check()`` returns when it holds and raises when not."""

    name: str
    """Short, stable key in the 503 answer, e.g. ``"database"``."""
    reason: str
    """What the 503 answer says when it fails; fixed text, never from the exception."""
    check: Callable[[], object]


def _json(status: int, body: dict[str, object]) -> web.Response:
    return web.Response(
        status=status,
        text=json.dumps(body, sort_keys=True) + "\n",
        content_type="application/json",
        headers=_HEADERS,
    )


def live() -> web.Response:
    """200: the process runs and its event loop answers."""
    return _json(200, {"status": "live"})


async def _passes(check: ReadinessCheck, executor: Executor, timeout: float) -> bool:
    loop = asyncio.get_running_loop()
    try:
        await asyncio.wait_for(loop.run_in_executor(executor, check.check), timeout)
    except TimeoutError:
        _LOG.warning("readiness: %s check timed out after %.1f s", check.name, timeout)
        return False
    except Exception as exc:  # any failure means not ready; its text may hold secrets
        _LOG.warning("readiness: %s check failed (%s)", check.name, type(exc).__name__)
        return False
    return True


async def ready(
    checks: Sequence[ReadinessCheck],
    executor: Executor,
    *,
    timeout: float = READY_TIMEOUT_SECONDS,
) -> web.Response:
    """200 when every check passes (run together, in *executor*); else 503 naming the failed."""
    results = await asyncio.gather(*(_passes(c, executor, timeout) for c in checks))
    failed = {c.name: c.reason for c, ok in zip(checks, results, strict=True) if not ok}
    if failed:
        return _json(503, {"status": "not ready", "failed": failed})
    return _json(200, {"status": "ready", "checked": sorted(c.name for c in checks)})
