"""What the OCSP/CRL HTTP front answers, independent of the HTTP server that carries it.

One request in (method, raw path, headers, body, remote), one response out (status,
headers, body): every route, cache header, ETag/304, HEAD, 404/405/413/415 and the
access line live here, so the server adapter (:mod:`ocsp.rsgi` on granian,
:mod:`ocsp.granian_server`) stays thin, a faster server can replace it (issue 23), and
the fuzz target and tests need no socket. Routes, and nothing else:

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

Two steps, because the answer of most requests needs no thread and some need one:

- :meth:`Front.now` runs on the server's event loop: probes' liveness, CA
  certificates, documents, HTTP errors and every OCSP answer that needs no signature
  (a cache hit or one indexed read); ``None`` when the request needs :meth:`Front.later`.
- :meth:`Front.later` may block (an on-demand signature, a CRL read, the readiness
  checks); the adapter runs it in a worker thread.

Both are total: an unexpected exception becomes ``tryLater`` with 503, never a 500.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import functools
import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import format_datetime
from urllib.parse import unquote

from ocsp.codec import MALFORMED_REQUEST, TRY_LATER
from ocsp.kept import KeptCopies
from ocsp.model import StoredCrl
from ocsp.probes import LIVE_PATH, READY_PATH, READY_TIMEOUT_SECONDS, ReadinessCheck, failed_checks
from ocsp.responder import Answer, Responder

_LOG = logging.getLogger(__name__)

OCSP_REQUEST = "application/ocsp-request"
OCSP_RESPONSE = "application/ocsp-response"
MAX_REQUEST_BYTES = 10 * 1024
"""An OCSP request for a few certificates is a few hundred bytes; 10 KiB leaves room for
a signed request with its certificates and refuses anything meant to exhaust memory."""
MAX_GET_PATH = 4096
"""RFC 5019 §5: GET requests longer than 255 bytes SHOULD use POST; we accept up to this."""
MAX_TARGET = 8190
"""A request target longer than this is 414 (aiohttp's and nginx's default line limit)."""
MAX_HEADER_BYTES = 8190
"""Header names and values together over this are 431: no client of ours sends that much."""
MAX_AGE_MARGIN_SECONDS = 60
"""max-age stays this far below nextUpdate, so no cache serves a response at its very end."""

ACCESS_LOGGER = "zorgid.access.http"
"""The logger of the access lines (``issuer.logs.HTTP_ACCESS`` names the same)."""
MAX_LOGGED_PATH = 64
"""Characters of a path the access line keeps: enough for every path this front serves."""
_ACCESS = logging.getLogger(ACCESS_LOGGER)

_NO_STORE = ("Cache-Control", "no-store")
_TEXT = ("Content-Type", "text/plain; charset=utf-8")
_ERROR_KINDS: Mapping[str, str] = {
    "malformedRequest": "malformed",
    "unauthorized": "unauthorized",
    "tryLater": "try_later",
}

Headers = tuple[tuple[str, str], ...]


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


@dataclass(frozen=True, kw_only=True, slots=True)
class HttpRequest:
    """A request as the server parsed it; *headers* keys in lower case."""

    method: str
    raw_path: str
    """The target as sent (percent-encoded, with its query)."""
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    """At most ``MAX_REQUEST_BYTES + 1`` bytes: the adapter stops reading there."""
    remote: str | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class HttpResponse:
    """What to send: for HEAD the adapter sends the headers (Content-Length included) only."""

    status: int
    headers: Headers
    body: bytes = b""
    kind: str = "http_error"
    """The access line's kind: ``crl``, ``live``, ``good``, ``malformed``..."""
    answer: Answer | None = None
    logged_path: str | None = None
    """The path for the access line when it must not show the request (an OCSP GET)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class _Deferred:
    """What :meth:`Front.later` must do: ``ocsp`` (answer *der*), ``crl`` or ``ready``."""

    what: str
    der: bytes = b""
    issuer_id: str = ""
    logged_path: str | None = None


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


@functools.lru_cache(maxsize=4096)
def _http_date(moment: datetime) -> str:
    """RFC 9110 §5.6.7 IMF-fixdate; memoised (a response's dates repeat on every hit)."""
    return format_datetime(moment, usegmt=True)


def _cache_headers(etag: str, produced: datetime, until: datetime, now: float) -> Headers:
    max_age = max(0, int(until.timestamp() - now) - MAX_AGE_MARGIN_SECONDS)
    return (
        ("Cache-Control", f"max-age={max_age}, public, no-transform, must-revalidate"),
        ("ETag", etag),
        ("Last-Modified", _http_date(produced)),
        ("Expires", _http_date(until)),
    )


def _etag_matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    tags = {t.strip().removeprefix("W/") for t in header.split(",")}
    return "*" in tags or etag in tags


def _error(status: int, text: str, *extra: tuple[str, str]) -> HttpResponse:
    return HttpResponse(
        status=status, headers=(_NO_STORE, _TEXT, *extra), body=(text + "\n").encode()
    )


def _not_found(path: str) -> HttpResponse:
    """A path no certificate names: plain 404, never an OCSP response."""
    return _error(404, f"nothing is served at {path[:80]!r}")


def _not_allowed(allow: str) -> HttpResponse:
    return _error(405, f"use {allow}", ("Allow", allow))


def _json(status: int, body: Mapping[str, object]) -> HttpResponse:
    return HttpResponse(
        status=status,
        headers=(("Content-Type", "application/json; charset=utf-8"), _NO_STORE),
        body=(json.dumps(body, sort_keys=True) + "\n").encode(),
    )


def _try_later(answer: Answer | None = None) -> HttpResponse:
    return HttpResponse(
        status=503,
        headers=(_NO_STORE, ("Content-Type", OCSP_RESPONSE)),
        body=TRY_LATER,
        kind="try_later",
        answer=answer or Answer(outcome="tryLater", der=TRY_LATER, cacheable=False),
    )


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


def headers_too_large(headers: Iterable[tuple[str, str]]) -> bool:
    """Names and values together over :data:`MAX_HEADER_BYTES` (431)."""
    return sum(len(name) + len(value) for name, value in headers) > MAX_HEADER_BYTES


def logged_path(raw: str) -> str:
    """The path as the access line shows it: without its query, at most
    :data:`MAX_LOGGED_PATH` characters (the rest counted, not shown)."""
    path = raw.split("?", 1)[0]
    if len(path) <= MAX_LOGGED_PATH:
        return path
    return f"{path[:MAX_LOGGED_PATH]}...({len(path)} chars)"


def media_type(headers: Mapping[str, str]) -> str:
    """The Content-Type's media type, lower case, without parameters (RFC 9110 §8.3.1);
    ``application/octet-stream`` when absent (RFC 9110 §8.3)."""
    value = headers.get("content-type")
    if value is None:
        return "application/octet-stream"
    return value.split(";", 1)[0].strip().lower()


def answer_kind(answer: Answer) -> str:
    """good / revoked / unknown for a successful answer, else the error's kind."""
    if answer.outcome != "successful":
        return _ERROR_KINDS.get(answer.outcome, answer.outcome)
    try:
        return answer.cert_status or "successful"
    except Exception:  # our own DER; a log line never fails the answer
        return "successful"


class Front:
    """The routes of the certificates' URLs and the probes, over one :class:`Responder`.

    *readiness*: what ``/readyz`` checks (``issuer.ocsp_wiring``: database, HSM key); they
    run in a small pool of their own, so a hung database cannot take the OCSP threads.
    *on_answer* hears every OCSP answer sent (not CRLs, certificates or HTTP errors):
    the composition root passes the metrics' counter, so this package imports none.
    """

    def __init__(
        self,
        responder: Responder,
        *,
        routes: HttpRoutes | None = None,
        crls: CrlCache | None = None,
        readiness: Sequence[ReadinessCheck] = (),
        on_answer: Callable[[Answer], None] | None = None,
        repeat_log_sample: int = 1,
    ) -> None:
        routes = routes or HttpRoutes()
        stripped = routes.ocsp_prefix.strip("/")
        self._responder = responder
        self._prefix = "/" + stripped if stripped else ""
        self._crl_paths = dict(routes.crl_paths or {})
        self._ca_paths = dict(routes.ca_certificates or {})
        self._documents = dict(routes.documents or {})
        self._get_only = (
            set(self._crl_paths)
            | set(self._ca_paths)
            | set(self._documents)
            | {LIVE_PATH, READY_PATH}
        )
        self._crls = crls
        self._checks = tuple(readiness)
        self._on_answer = on_answer
        self._probe_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="ocsp-readyz")
        """The readiness checks' own threads (none start before the first ``/readyz``)."""
        self._kept: KeptCopies[HttpResponse] = KeptCopies(
            responder.cache_size, responder.fresh, max_seconds=MAX_AGE_MARGIN_SECONDS
        )
        """Finished responses of OCSP GETs by target: a repeat is one dict lookup, no path
        decoding, cache key or headers built again (issue 23). Sent at most
        MAX_AGE_MARGIN_SECONDS after they were made, so the ``max-age`` computed then
        never says more than is left."""
        self._sample = max(1, repeat_log_sample)
        self._repeats = 0
        """Responses :meth:`again` gave since the last access line of one (event loop only)."""

    def close(self) -> None:
        """Stop the readiness checks' threads (a hung check is left to finish alone)."""
        self._probe_pool.shutdown(wait=False, cancel_futures=True)

    # -- the two steps ---------------------------------------------------------------

    def again(self, target: str) -> HttpResponse | None:
        """The response of a plain GET of *target* (no query, no ``If-None-Match``) if a
        finished one is kept (``self._kept``), counted as an answer sent; else ``None``
        (then :meth:`now`). The adapter asks this before it builds an :class:`HttpRequest`."""
        response = self._kept.get(target)
        if response is not None and response.answer is not None:
            self._heard(response.answer)
        return response

    def now(self, request: HttpRequest) -> HttpResponse | None:
        """The response if it needs no thread, else ``None`` (then :meth:`later`)."""
        try:
            step = self._route(request)
            if isinstance(step, HttpResponse):
                return step
            if step.what == "ocsp":
                ready = self._responder.answer_without_signing(step.der)
                if ready is not None:
                    return self._ocsp(request, ready, step.logged_path)
            return None
        except Exception:
            _LOG.exception("OCSP HTTP handler failed; answering tryLater")
            return self._failed()

    def later(self, request: HttpRequest) -> HttpResponse:
        """The response of a request :meth:`now` left: may block on the HSM or database."""
        try:
            step = self._route(request)
            if isinstance(step, HttpResponse):
                return step
            if step.what == "ocsp":
                return self._ocsp(request, self._responder.answer(step.der), step.logged_path)
            if step.what == "crl":
                return self._crl(request, step.issuer_id)
            return self._ready()
        except Exception:
            _LOG.exception("OCSP HTTP handler failed; answering tryLater")
            return self._failed()

    def handle(self, request: HttpRequest) -> HttpResponse:
        """Both steps in the caller's thread (tests, the fuzz target)."""
        return self.now(request) or self.later(request)

    def log(
        self,
        method: str,
        target: str,
        remote: str | None,
        response: HttpResponse,
        started: float,
        *,
        repeat: bool = False,
    ) -> None:
        """The request's access line; *started* is its ``time.perf_counter()``.

        A *repeat* (a response :meth:`again` gave) gets one line in ``repeat_log_sample``,
        with ``sample`` saying how many it stands for; every other request gets its own."""
        if repeat and self._sample > 1:
            self._repeats += 1
            if self._repeats < self._sample:
                return
            self._repeats = 0
        if not _ACCESS.isEnabledFor(logging.INFO):
            return
        sent = 0 if method == "HEAD" else len(response.body)
        fields: dict[str, object] = {
            "method": method,
            "path": response.logged_path or logged_path(target),
            "status": response.status,
            "kind": response.kind,
            "bytes": sent,
            "duration_ms": round((time.perf_counter() - started) * 1000, 3),
            "remote": remote,
        }
        if repeat and self._sample > 1:
            fields["sample"] = self._sample
        _ACCESS.info("HTTP request", extra={"fields": fields})

    # -- routes ----------------------------------------------------------------------

    def _route(self, request: HttpRequest) -> HttpResponse | _Deferred:
        if len(request.raw_path) > MAX_TARGET:
            return _error(414, f"request target over {MAX_TARGET} characters")
        if headers_too_large(request.headers.items()):
            return _error(431, f"request headers over {MAX_HEADER_BYTES} bytes")
        raw = request.raw_path.split("?", 1)[0]
        path = unquote(raw) if "%" in raw else raw
        method = request.method
        if method == "GET" or (method == "HEAD" and path in self._get_only):
            return self._get(request, raw, path)
        if method == "POST":
            return self._post(request, raw.rstrip("/"))
        if path.rstrip("/") == self._prefix or raw.startswith(self._prefix + "/"):
            return _not_allowed("GET, POST")
        if path in self._get_only:
            return _not_allowed("GET, HEAD")
        return _not_found(raw)

    def _get(self, request: HttpRequest, raw: str, path: str) -> HttpResponse | _Deferred:
        if path == LIVE_PATH:
            return dataclasses.replace(_json(200, {"status": "live"}), kind="live")
        if path == READY_PATH:
            return _Deferred(what="ready")
        if path in self._crl_paths:
            return _Deferred(what="crl", issuer_id=self._crl_paths[path])
        if path in self._ca_paths:
            return HttpResponse(
                status=200,
                headers=(
                    ("Content-Type", "application/pkix-cert"),
                    ("Cache-Control", "max-age=3600"),
                ),
                body=self._ca_paths[path],
                kind="ca_certificate",
            )
        if path in self._documents:
            body, content_type = self._documents[path]
            return HttpResponse(
                status=200,
                headers=(("Content-Type", content_type), ("Cache-Control", "max-age=3600")),
                body=body,
                kind="document",
            )
        prefix = self._prefix
        if not raw.startswith(prefix + "/"):
            return _not_found(raw)
        rest = raw[len(prefix) + 1 :]
        if not rest:
            return _error(404, "no OCSP request in the path; expected GET /<base64 DER>")
        shown = f"{prefix}/<{len(rest)} chars>"  # never the request (its nonce)
        der = decode_get_path(rest)
        if der is None:
            answer = Answer(outcome="malformedRequest", der=MALFORMED_REQUEST, cacheable=False)
            return self._ocsp(request, answer, shown)
        return _Deferred(what="ocsp", der=der, logged_path=shown)

    def _post(self, request: HttpRequest, path: str) -> HttpResponse | _Deferred:
        if path != self._prefix:
            if unquote(path) in self._get_only:
                return _not_allowed("GET, HEAD")
            return _not_found(path)
        content_type = media_type(request.headers)
        if content_type != OCSP_REQUEST:
            return _error(415, f"got Content-Type {content_type[:80]!r}; expected {OCSP_REQUEST}")
        if _declared_length(request.headers) > MAX_REQUEST_BYTES:
            return _error(413, f"request body over {MAX_REQUEST_BYTES} bytes")
        if len(request.body) > MAX_REQUEST_BYTES:
            return _error(413, f"request body over {MAX_REQUEST_BYTES} bytes")
        return _Deferred(what="ocsp", der=request.body)

    # -- answers ---------------------------------------------------------------------

    def _heard(self, answer: Answer) -> Answer:
        if self._on_answer is not None:
            try:
                self._on_answer(answer)
            except Exception:
                _LOG.exception("OCSP answer listener failed; the answer is sent anyway")
        return answer

    def _failed(self) -> HttpResponse:
        return _try_later(self._heard(Answer(outcome="tryLater", der=TRY_LATER, cacheable=False)))

    def _ocsp(self, request: HttpRequest, answer: Answer, shown: str | None) -> HttpResponse:
        self._heard(answer)
        kind = answer_kind(answer)
        if (
            not answer.cacheable
            or answer.etag is None
            or answer.next_update is None
            or answer.produced_at is None
        ):
            headers: Headers = (_NO_STORE, ("Content-Type", OCSP_RESPONSE))
            return HttpResponse(
                status=200, headers=headers, body=answer.der, kind=kind, answer=answer,
                logged_path=shown,
            )  # fmt: skip
        cache = _cache_headers(answer.etag, answer.produced_at, answer.next_update, time.time())
        if _etag_matches(request.headers.get("if-none-match"), answer.etag):
            return HttpResponse(
                status=304, headers=cache, kind=kind, answer=answer, logged_path=shown
            )
        response = HttpResponse(
            status=200,
            headers=(*cache, ("Content-Type", OCSP_RESPONSE)),
            body=answer.der,
            kind=kind,
            answer=answer,
            logged_path=shown,
        )
        if request.method == "GET" and "?" not in request.raw_path and answer.kept is not None:
            repeat = answer  # a repeat is counted as the responder's cache hits are
            if not answer.cached:
                repeat = dataclasses.replace(answer, cached=True, on_demand=None)
            self._kept.keep(
                request.raw_path, answer.kept, dataclasses.replace(response, answer=repeat)
            )
        return response

    def _crl(self, request: HttpRequest, issuer_id: str) -> HttpResponse:
        if self._crls is None:
            return _crl_kind(_error(404, "no CRL store configured"))
        crl = self._crls.get(issuer_id)
        if crl is None:
            return _crl_kind(_error(503, "no CRL published yet; retry shortly"))
        etag = '"' + hashlib.sha256(crl.der).hexdigest()[:32] + '"'
        cache = _cache_headers(etag, crl.this_update, crl.next_update, time.time())
        if _etag_matches(request.headers.get("if-none-match"), etag):
            return HttpResponse(status=304, headers=cache, kind="crl")
        return HttpResponse(
            status=200,
            headers=(*cache, ("Content-Type", "application/pkix-crl")),
            body=crl.der,
            kind="crl",
        )

    def _ready(self) -> HttpResponse:
        failed = failed_checks(self._checks, self._probe_pool, READY_TIMEOUT_SECONDS)
        if failed:
            response = _json(503, {"status": "not ready", "failed": failed})
        else:
            response = _json(
                200, {"status": "ready", "checked": sorted(c.name for c in self._checks)}
            )
        return dataclasses.replace(response, kind="ready")


def _crl_kind(response: HttpResponse) -> HttpResponse:
    return dataclasses.replace(response, kind="crl")


def _declared_length(headers: Mapping[str, str]) -> int:
    """Content-Length as declared (0 when absent or not a number: the body read decides)."""
    try:
        return int(headers.get("content-length", "0"))
    except ValueError:
        return 0
