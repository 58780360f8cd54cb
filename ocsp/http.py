"""OCSP and CRL over HTTP (RFC 5019 §5-6, RFC 6960 Appendix A, RFC 5280 §4.2.1.13).

What is answered is :mod:`ocsp.front` (one server-independent request -> response);
this module carries it on aiohttp (:func:`build_app`), :mod:`ocsp.rsgi` on granian
(docs/decisions/ocsp.md, issue 23, says which serves and why). Routes, and nothing else:

- ``GET <prefix>/<base64 request>``: base64 URL-encoded or not (RFC 5019
  §5 asks for URL encoding, but clients send raw ``/`` and ``+`` too), under
  the path of the OCSP URL the certificates name;
- ``POST <prefix>`` with ``Content-Type: application/ocsp-request``,
  body at most :data:`MAX_REQUEST_BYTES`;
- ``GET`` (and ``HEAD``: the same headers, no body) of each CRL path
  (``application/pkix-crl``), CA certificate path (``application/pkix-cert``) and
  document path (the CPS);
- ``GET``/``HEAD`` of ``/healthz`` (live) and ``/readyz`` (ready: the checks the
  composition root passes in), see :mod:`ocsp.probes`.

Any other path is 404 and another method on a served path 405: a path that is
not an OCSP URL never answers as one (issue 18). Only an OCSP URL at the root
(``http://host/``) makes every other GET path an OCSP request, as that URL says.

Successful, nonce-free answers carry ``Cache-Control: max-age=<below
nextUpdate>, public, no-transform, must-revalidate``, ``ETag``,
``Last-Modified`` (producedAt), ``Expires`` (nextUpdate) (RFC 5019 §6.2), and
``If-None-Match`` gives 304. OCSP errors and HTTP errors say ``no-store``.
No input makes a 500: every answer path is total (see :meth:`Responder.answer`).

Every request gets one access line on the ``zorgid.access.http`` logger (INFO):
method, a bounded path, status, response kind, bytes, duration and remote
address, as structured fields (the ``fields`` attribute ``issuer.logs`` renders).
An OCSP GET's path is logged as its length only: the base64 request carries
the client's nonce, which is never logged.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

from aiohttp import web
from multidict import CIMultiDict

from ocsp.front import (
    ACCESS_LOGGER,
    MAX_LOGGED_PATH,
    MAX_REQUEST_BYTES,
    OCSP_REQUEST,
    OCSP_RESPONSE,
    CrlCache,
    Front,
    HttpRequest,
    HttpRoutes,
    decode_get_path,
    logged_path,
)
from ocsp.probes import ReadinessCheck
from ocsp.responder import Answer, Responder

__all__ = [
    "ACCESS_LOGGER",
    "MAX_LOGGED_PATH",
    "MAX_REQUEST_BYTES",
    "OCSP_REQUEST",
    "OCSP_RESPONSE",
    "CrlCache",
    "HttpRoutes",
    "build_app",
    "decode_get_path",
    "front_app",
    "logged_path",
]


def build_app(
    responder: Responder,
    *,
    routes: HttpRoutes | None = None,
    crls: CrlCache | None = None,
    executor: ThreadPoolExecutor | None = None,
    readiness: Sequence[ReadinessCheck] = (),
    on_answer: Callable[[Answer], None] | None = None,
) -> web.Application:
    """The aiohttp application of a :class:`~ocsp.front.Front` over *responder*."""
    front = Front(responder, routes=routes, crls=crls, readiness=readiness, on_answer=on_answer)
    return front_app(front, executor=executor)


def front_app(front: Front, *, executor: ThreadPoolExecutor | None = None) -> web.Application:
    """*front* on aiohttp: what needs no thread on the event loop, the rest in *executor*."""
    pool = executor or ThreadPoolExecutor(max_workers=8, thread_name_prefix="ocsp-http")

    async def handle(request: web.Request) -> web.StreamResponse:
        started = time.perf_counter()
        body = b""
        length = request.content_length
        if request.method == "POST" and (length is None or length <= MAX_REQUEST_BYTES):
            body = await request.content.read(MAX_REQUEST_BYTES + 1)
        asked = HttpRequest(
            method=request.method,
            raw_path=request.raw_path,
            headers={k.lower(): v for k, v in request.headers.items()},
            body=body,
            remote=request.remote,
        )
        answer = front.now(asked)
        if answer is None:
            answer = await asyncio.get_running_loop().run_in_executor(pool, front.later, asked)
        front.log(asked, answer, started)
        return web.Response(
            status=answer.status, headers=CIMultiDict(answer.headers), body=answer.body
        )

    app = web.Application(client_max_size=MAX_REQUEST_BYTES)

    async def stop_probe_pool(app: web.Application) -> None:
        front.close()

    app.on_cleanup.append(stop_probe_pool)
    app.router.add_route("*", "/{tail:.*}", handle)
    return app
