"""OCSP and CRL over HTTP (RFC 5019 §5-6, RFC 6960 Appendix A, RFC 5280 §4.2.1.13).

aiohttp serves it (docs/decisions/ocsp.md says why). Routes, and nothing else:

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
import base64
import binascii
import functools
import hashlib
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime
from urllib.parse import unquote

from aiohttp import web
from aiohttp.typedefs import Handler

from ocsp.codec import MALFORMED_REQUEST, TRY_LATER
from ocsp.model import StoredCrl
from ocsp.probes import LIVE_PATH, READY_PATH, ReadinessCheck, live, ready
from ocsp.responder import Answer, Responder

_LOG = logging.getLogger(__name__)

OCSP_REQUEST = "application/ocsp-request"
OCSP_RESPONSE = "application/ocsp-response"
MAX_REQUEST_BYTES = 10 * 1024
"""An OCSP request for a few certificates is a few hundred bytes; 10 KiB leaves room for
a signed request with its certificates and refuses anything meant to exhaust memory."""
MAX_GET_PATH = 4096
"""RFC 5019 §5: GET requests longer than 255 bytes SHOULD use POST; we accept up to this."""
MAX_AGE_MARGIN_SECONDS = 60
"""max-age stays this far below nextUpdate, so no cache serves a response at its very end."""

_NO_STORE = {"Cache-Control": "no-store"}

ACCESS_LOGGER = "zorgid.access.http"
"""The logger of the access lines (``issuer.logs.HTTP_ACCESS`` names the same)."""
MAX_LOGGED_PATH = 64
"""Characters of a path the access line keeps: enough for every path this front serves."""
_ACCESS = logging.getLogger(ACCESS_LOGGER)
_KIND = web.RequestKey("zorgid_access_kind", str)
_ANSWER = web.RequestKey("zorgid_access_answer", Answer)
_OCSP_PATH = web.RequestKey("zorgid_access_ocsp_path", str)
_ERROR_KINDS: Mapping[str, str] = {
    "malformedRequest": "malformed",
    "unauthorized": "unauthorized",
    "tryLater": "try_later",
}


@dataclass(frozen=True, kw_only=True)
class HttpRoutes:
    """Where things are served: the OCSP path prefix and the CRL / CA certificate paths."""

    ocsp_prefix: str = "/ocsp"
    crl_paths: Mapping[str, str] | None = None
    """URL path -> issuer_id of the CRL served there (the certificates' CRL DP path)."""
    ca_certificates: Mapping[str, bytes] | None = None
    """URL path -> DER of the CA certificate served there (the AIA caIssuers path)."""
    documents: Mapping[str, tuple[bytes, str]] | None = None
    """URL path -> (body, Content-Type) of a static document (the CPS URL's)."""


@functools.lru_cache(maxsize=4096)
def _http_date(moment: datetime) -> str:
    """RFC 9110 §5.6.7 IMF-fixdate; memoised (a response's dates repeat on every hit)."""
    return format_datetime(moment, usegmt=True)


def _cache_headers(
    answer_etag: str, produced: datetime, until: datetime, now: float
) -> dict[str, str]:
    max_age = max(0, int(until.timestamp() - now) - MAX_AGE_MARGIN_SECONDS)
    return {
        "Cache-Control": f"max-age={max_age}, public, no-transform, must-revalidate",
        "ETag": answer_etag,
        "Last-Modified": _http_date(produced),
        "Expires": _http_date(until),
    }


def _ocsp_response(request: web.Request, answer: Answer) -> web.Response:
    if (
        not answer.cacheable
        or answer.etag is None
        or answer.next_update is None
        or answer.produced_at is None
    ):
        headers = dict(_NO_STORE)
        headers["Content-Type"] = OCSP_RESPONSE
        return web.Response(body=answer.der, headers=headers)
    headers = _cache_headers(answer.etag, answer.produced_at, answer.next_update, time.time())
    if _etag_matches(request.headers.get("If-None-Match"), answer.etag):
        return web.Response(status=304, headers=headers)
    headers["Content-Type"] = OCSP_RESPONSE
    return web.Response(body=answer.der, headers=headers)


def _etag_matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    tags = {t.strip().removeprefix("W/") for t in header.split(",")}
    return "*" in tags or etag in tags


def _malformed() -> web.Response:
    return web.Response(
        body=MALFORMED_REQUEST, headers={**_NO_STORE, "Content-Type": OCSP_RESPONSE}
    )


def _http_error(status: int, text: str) -> web.Response:
    return web.Response(status=status, text=text + "\n", headers=_NO_STORE)


def _not_found(path: str) -> web.Response:
    """A path no certificate names: plain 404, never an OCSP response."""
    return _http_error(404, f"nothing is served at {path[:80]!r}")


def _not_allowed(allow: str) -> web.Response:
    return web.Response(status=405, text=f"use {allow}\n", headers={**_NO_STORE, "Allow": allow})


def decode_get_path(raw: str) -> bytes | None:
    """The request bytes of a GET path remainder, or ``None`` when it is not base64.

    Percent-decoding first makes URL-encoded and raw forms the same string
    (RFC 5019 §5); padding may be missing, URL-safe alphabet is accepted too.
    """
    text = unquote(raw).strip()
    if not text or len(text) > MAX_GET_PATH:
        return None
    text = text.replace("-", "+").replace("_", "/").replace(" ", "+")
    text += "=" * (-len(text) % 4)
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


def logged_path(raw: str) -> str:
    """The path as the access line shows it: without its query, at most
    :data:`MAX_LOGGED_PATH` characters (the rest counted, not shown)."""
    path = raw.split("?", 1)[0]
    if len(path) <= MAX_LOGGED_PATH:
        return path
    return f"{path[:MAX_LOGGED_PATH]}...({len(path)} chars)"


def _answer_kind(answer: Answer) -> str:
    """good / revoked / unknown for a successful answer, else the error's kind."""
    if answer.outcome != "successful":
        return _ERROR_KINDS.get(answer.outcome, answer.outcome)
    try:
        return answer.cert_status or "successful"
    except Exception:  # our own DER; a log line never fails the answer
        return "successful"


def _access_line(request: web.Request, status: int, sent: int, started: float) -> None:
    answer = request.get(_ANSWER)
    kind = _answer_kind(answer) if answer is not None else request.get(_KIND, "http_error")
    seconds = time.perf_counter() - started
    path = request.get(_OCSP_PATH) or logged_path(request.raw_path)
    _ACCESS.info(
        "HTTP request",
        extra={
            "fields": {
                "method": request.method,
                "path": path,
                "status": status,
                "kind": kind,
                "bytes": sent,
                "duration_ms": round(seconds * 1000, 3),
                "remote": request.remote,
            }
        },
    )


def _body_bytes(request: web.Request, response: web.StreamResponse) -> int:
    if request.method == "HEAD" or not isinstance(response, web.Response):
        return 0
    body = response.body
    return len(body) if isinstance(body, bytes | bytearray) else response.content_length or 0


class CrlCache:
    """Latest CRL per issuer, re-read from the store at most every ``ttl`` seconds."""

    def __init__(self, latest: Callable[[str], StoredCrl | None], ttl: float = 5.0) -> None:
        self._latest = latest
        self._ttl = ttl
        self._entries: dict[str, tuple[float, StoredCrl | None]] = {}

    def get(self, issuer_id: str) -> StoredCrl | None:
        now = time.monotonic()
        hit = self._entries.get(issuer_id)
        if hit is not None and now - hit[0] < self._ttl:
            return hit[1]
        crl = self._latest(issuer_id)
        self._entries[issuer_id] = (now, crl)
        return crl


def build_app(
    responder: Responder,
    *,
    routes: HttpRoutes | None = None,
    crls: CrlCache | None = None,
    executor: ThreadPoolExecutor | None = None,
    readiness: Sequence[ReadinessCheck] = (),
    on_answer: Callable[[Answer], None] | None = None,
) -> web.Application:
    """The aiohttp application; database and HSM work runs in *executor* threads.

    *readiness*: what ``/readyz`` checks (``issuer.ocsp_wiring``: database, HSM key); they
    run in a small pool of their own, so a hung database cannot take the OCSP threads.
    *on_answer* hears every OCSP answer sent (not CRLs, certificates or HTTP errors):
    the composition root passes the metrics' counter, so this package imports none.
    """
    routes = routes or HttpRoutes()
    prefix = "/" + routes.ocsp_prefix.strip("/") if routes.ocsp_prefix.strip("/") else ""
    crl_paths = dict(routes.crl_paths or {})
    ca_paths = dict(routes.ca_certificates or {})
    documents = dict(routes.documents or {})
    get_only = set(crl_paths) | set(ca_paths) | set(documents) | {LIVE_PATH, READY_PATH}
    pool = executor or ThreadPoolExecutor(max_workers=8, thread_name_prefix="ocsp-http")
    checks = tuple(readiness)
    probe_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="ocsp-readyz")

    def heard(answer: Answer) -> Answer:
        if on_answer is not None:
            try:
                on_answer(answer)
            except Exception:
                _LOG.exception("OCSP answer listener failed; the answer is sent anyway")
        return answer

    async def run_answer(der: bytes) -> Answer:
        ready = responder.answer_without_signing(der)
        if ready is not None:
            return heard(ready)
        loop = asyncio.get_running_loop()
        return heard(await loop.run_in_executor(pool, responder.answer, der))

    async def handle_get(request: web.Request) -> web.StreamResponse:
        raw = request.raw_path.split("?", 1)[0]
        path = unquote(raw)
        if path == LIVE_PATH:
            request[_KIND] = "live"
            return live()
        if path == READY_PATH:
            request[_KIND] = "ready"
            return await ready(checks, probe_pool)
        if path in crl_paths:
            return await serve_crl(request, crl_paths[path])
        if path in ca_paths:
            request[_KIND] = "ca_certificate"
            return web.Response(
                body=ca_paths[path],
                headers={"Content-Type": "application/pkix-cert", "Cache-Control": "max-age=3600"},
            )
        if path in documents:
            request[_KIND] = "document"
            body, content_type = documents[path]
            return web.Response(
                body=body, headers={"Content-Type": content_type, "Cache-Control": "max-age=3600"}
            )
        if not raw.startswith(prefix + "/"):
            return _not_found(raw)
        rest = raw[len(prefix) + 1 :]
        if not rest:
            return _http_error(404, "no OCSP request in the path; expected GET /<base64 DER>")
        request[_OCSP_PATH] = f"{prefix}/<{len(rest)} chars>"  # never the request (its nonce)
        der = decode_get_path(rest)
        if der is None:
            request[_ANSWER] = heard(
                Answer(outcome="malformedRequest", der=MALFORMED_REQUEST, cacheable=False)
            )
            return _malformed()
        request[_ANSWER] = answer = await run_answer(der)
        return _ocsp_response(request, answer)

    async def handle_post(request: web.Request) -> web.StreamResponse:
        path = request.raw_path.split("?", 1)[0].rstrip("/")
        if path != prefix:
            if unquote(path) in get_only:
                return _not_allowed("GET, HEAD")
            return _not_found(path)
        if request.content_type != OCSP_REQUEST:
            return _http_error(
                415, f"got Content-Type {request.content_type[:80]!r}; expected {OCSP_REQUEST}"
            )
        if request.content_length is not None and request.content_length > MAX_REQUEST_BYTES:
            return _http_error(413, f"request body over {MAX_REQUEST_BYTES} bytes")
        body = await request.content.read(MAX_REQUEST_BYTES + 1)
        if len(body) > MAX_REQUEST_BYTES:
            return _http_error(413, f"request body over {MAX_REQUEST_BYTES} bytes")
        request[_ANSWER] = answer = await run_answer(body)
        return _ocsp_response(request, answer)

    async def serve_crl(request: web.Request, issuer_id: str) -> web.StreamResponse:
        request[_KIND] = "crl"
        if crls is None:
            return _http_error(404, "no CRL store configured")
        loop = asyncio.get_running_loop()
        crl = await loop.run_in_executor(pool, crls.get, issuer_id)
        if crl is None:
            return _http_error(503, "no CRL published yet; retry shortly")
        etag = '"' + hashlib.sha256(crl.der).hexdigest()[:32] + '"'
        headers = _cache_headers(etag, crl.this_update, crl.next_update, time.time())
        if _etag_matches(request.headers.get("If-None-Match"), etag):
            return web.Response(status=304, headers=headers)
        headers["Content-Type"] = "application/pkix-crl"
        return web.Response(body=crl.der, headers=headers)

    async def handle_head(request: web.Request) -> web.StreamResponse:
        """GET's answer without its body (aiohttp sends none for HEAD) on the GET-only paths;
        never under the OCSP prefix (a HEAD would make the responder sign for nothing)."""
        if unquote(request.raw_path.split("?", 1)[0]) in get_only:
            return await handle_get(request)
        return await not_allowed(request)

    async def not_allowed(request: web.Request) -> web.StreamResponse:
        raw = request.raw_path.split("?", 1)[0]
        path = unquote(raw)
        if path.rstrip("/") == prefix or raw.startswith(prefix + "/"):
            return _not_allowed("GET, POST")
        if path in get_only:
            return _not_allowed("GET, HEAD")
        return _not_found(raw)

    @web.middleware
    async def never_500(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except web.HTTPException:
            raise
        except Exception:
            _LOG.exception("OCSP HTTP handler failed; answering tryLater")
            request[_ANSWER] = heard(Answer(outcome="tryLater", der=TRY_LATER, cacheable=False))
            return web.Response(
                status=503, body=TRY_LATER, headers={**_NO_STORE, "Content-Type": OCSP_RESPONSE}
            )

    @web.middleware
    async def access_log(request: web.Request, handler: Handler) -> web.StreamResponse:
        """One access line per request, whatever answered it (the outermost middleware)."""
        started = time.perf_counter()
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            if _ACCESS.isEnabledFor(logging.INFO):
                _access_line(request, exc.status, 0, started)
            raise
        if _ACCESS.isEnabledFor(logging.INFO):
            _access_line(request, response.status, _body_bytes(request, response), started)
        return response

    app = web.Application(middlewares=[access_log, never_500], client_max_size=MAX_REQUEST_BYTES)

    async def stop_probe_pool(app: web.Application) -> None:
        probe_pool.shutdown(wait=False, cancel_futures=True)

    app.on_cleanup.append(stop_probe_pool)
    app.router.add_route("GET", "/{tail:.*}", handle_get)
    app.router.add_route("HEAD", "/{tail:.*}", handle_head)
    app.router.add_route("POST", "/{tail:.*}", handle_post)
    app.router.add_route("*", "/{tail:.*}", not_allowed)
    return app
