"""Answer an OCSP request: from the pre-signed store (no HSM), or signed on demand.

Which path a request takes (RFC 6960 §2, RFC 5019 §2):

- one CertID of a known issuer, no nonce (or policy does not echo nonces):
  the stored pre-signed response, through a small in-memory cache. This is the
  RFC 5019 path every CDN and browser uses; it never signs.
- a nonce and ``echo_nonce`` (RFC 8954), several CertIDs, a CertID with a hash
  other than SHA-1/SHA-256, or a serial whose stored response is missing or
  stale: signed now, within a concurrency bound (``max_on_demand``); when the
  bound is full or the HSM is down, a nonce request falls back to the
  pre-signed response and anything else gets ``tryLater``.
- a CertID whose issuer we do not have: ``unauthorized`` (RFC 5019 §2.2.3:
  a responder that cannot answer authoritatively); that includes hash
  algorithms we do not know, which cannot name any issuer of ours.
- bytes that are not an OCSP request: ``malformedRequest``.

The responder keeps no state but a cache, so any number of them can serve one
database. Cache entries live ``cache_seconds`` at most (and never past the
response's ``nextUpdate``), which bounds how late a revocation made on another
node is seen here.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from hsm import HsmError
from ocsp.codec import (
    MALFORMED_REQUEST,
    TRY_LATER,
    UNAUTHORIZED,
    CertRef,
    MalformedRequest,
    ResponseSigner,
    SingleSpec,
    parse_request,
    whole_seconds,
)
from ocsp.issuers import PRESIGNED_ALGORITHMS, IssuerIndex, IssuingCa
from ocsp.model import (
    CertStatus,
    OcspTiming,
    ResponderUnavailable,
    ResponseStore,
    StatusSource,
    StoredResponse,
)
from ocsp.presign import Clock, PreSigner, utc_now

_LOG = logging.getLogger(__name__)

MAX_SERIAL = 1 << 159
"""Serials are positive and at most 20 octets (RFC 5280 §4.1.2.2); above this none is ours."""

Outcome = Literal["successful", "malformedRequest", "unauthorized", "tryLater"]


@dataclass(frozen=True, kw_only=True)
class Answer:
    """What to send back: the DER plus what HTTP caching needs (RFC 5019 §6)."""

    outcome: Outcome
    der: bytes
    cacheable: bool
    """Only successful answers without a nonce may be cached by HTTP caches."""
    this_update: datetime | None = None
    next_update: datetime | None = None
    produced_at: datetime | None = None
    etag: str | None = None


def _error(outcome: Outcome, der: bytes) -> Answer:
    return Answer(outcome=outcome, der=der, cacheable=False)


def _stored_answer(response: StoredResponse) -> Answer:
    return Answer(
        outcome="successful",
        der=response.der,
        cacheable=True,
        this_update=response.this_update,
        next_update=response.next_update,
        produced_at=response.produced_at,
        etag='"' + hashlib.sha256(response.der).hexdigest()[:32] + '"',
    )


class _Cache:
    """LRU of ready answers by key, each valid until its own deadline."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._data: OrderedDict[object, tuple[datetime, Answer]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: object, now: datetime) -> Answer | None:
        with self._lock:
            hit = self._data.get(key)
            if hit is None:
                return None
            if now >= hit[0]:
                del self._data[key]
                return None
            self._data.move_to_end(key)
            return hit[1]

    def put(self, key: object, until: datetime, answer: Answer) -> None:
        if self._size <= 0:
            return
        with self._lock:
            self._data[key] = (until, answer)
            self._data.move_to_end(key)
            while len(self._data) > self._size:
                self._data.popitem(last=False)


class Responder:
    """The OCSP answer logic, independent of HTTP and gRPC."""

    def __init__(
        self,
        *,
        issuers: IssuerIndex,
        status: StatusSource,
        presigner: PreSigner | None,
        store: ResponseStore,
        signer: ResponseSigner | None,
        timing: OcspTiming,
        clock: Clock = utc_now,
        cache_seconds: float = 5.0,
        cache_size: int = 100_000,
        max_on_demand: int = 4,
    ) -> None:
        self._issuers = issuers
        self._status = status
        self._presigner = presigner
        self._store = store
        self._signer = signer
        self._timing = timing
        self._clock = clock
        self._cache_ttl = timedelta(seconds=cache_seconds)
        self._cache = _Cache(cache_size if cache_seconds > 0 else 0)
        self._bound = threading.BoundedSemaphore(max(1, max_on_demand))

    # -- full path ---------------------------------------------------------

    def answer(self, request_der: bytes) -> Answer:
        """Answer any bytes; never raises for bad input (RFC 6960 §2.3 statuses instead)."""
        try:
            answer = self._answer(request_der)
        except Exception:
            _LOG.exception("OCSP answer failed unexpectedly; sending tryLater")
            return _error("tryLater", TRY_LATER)
        return answer if answer is not None else _error("tryLater", TRY_LATER)

    def answer_without_signing(self, request_der: bytes) -> Answer | None:
        """The answer if it needs no signature (cache, store, errors), else ``None``.

        The HTTP server runs this on its event loop -- a cache hit is a dict
        lookup, a miss one indexed SELECT -- and hands only ``None`` cases to
        :meth:`answer` in a worker thread.
        """
        try:
            return self._answer(request_der, allow_signing=False)
        except Exception:
            _LOG.exception("OCSP fast path failed; trying the full path")
            return None

    def _answer(self, request_der: bytes, *, allow_signing: bool = True) -> Answer | None:
        now = self._clock()
        hit = self._cache.get(request_der, now)
        if hit is not None:
            return hit
        try:
            request = parse_request(request_der)
        except MalformedRequest:
            return _error("malformedRequest", MALFORMED_REQUEST)
        matched: list[tuple[CertRef, IssuingCa]] = []
        for ref in request.certs:
            ca = self._issuers.find(ref.algorithm, ref.name_hash, ref.key_hash)
            if ca is None:
                return _error("unauthorized", UNAUTHORIZED)
            matched.append((ref, ca))
        wants_nonce = request.nonce_ext_value is not None and self._timing.echo_nonce
        if (
            len(matched) == 1
            and not wants_nonce
            and matched[0][0].algorithm in PRESIGNED_ALGORITHMS
        ):
            ref, ca = matched[0]
            return self._presigned(request_der, ca, ref.serial, now, allow_signing=allow_signing)
        if not allow_signing:
            return None
        try:
            return self._on_demand(matched, request.nonce_ext_value if wants_nonce else None)
        except ResponderUnavailable:
            if len(matched) == 1 and matched[0][0].algorithm in PRESIGNED_ALGORITHMS:
                # RFC 8954 §2.1 lets a responder answer without the nonce; better a
                # cacheable pre-signed answer than none when the signer is saturated.
                ref, ca = matched[0]
                return self._presigned(request_der, ca, ref.serial, now)
            return _error("tryLater", TRY_LATER)

    def _presigned(
        self,
        request_der: bytes,
        ca: IssuingCa,
        serial: int,
        now: datetime,
        *,
        allow_signing: bool = True,
    ) -> Answer | None:
        stored = self._stored(ca, serial, now, allow_signing=allow_signing)
        if stored is None:
            return None if not allow_signing else _error("tryLater", TRY_LATER)
        answer = _stored_answer(stored)
        until = min(now + self._cache_ttl, stored.next_update)
        self._cache.put(request_der, until, answer)
        return answer

    def _stored(
        self, ca: IssuingCa, serial: int, now: datetime, *, allow_signing: bool = True
    ) -> StoredResponse | None:
        """The stored response if still valid, else a fresh one (signed; stored if ours)."""
        in_range = 0 < serial < MAX_SERIAL
        if in_range:
            stored = self._store.get(ca.issuer_id, serial)
            if stored is not None and stored.this_update - _SKEW <= now < stored.next_update:
                return stored
        if not allow_signing or self._presigner is None or not self._bound.acquire(timeout=0.5):
            return None
        try:
            response, status = self._presigner.sign_with_status(
                ca.issuer_id, serial, status=None if in_range else CertStatus.unknown()
            )
            if status.state != "unknown":
                # The table holds responses of our certificates only; unknown ones
                # live in the cache for their short validity.
                self._store.put(ca.issuer_id, serial, response)
            return response
        except HsmError:
            _LOG.warning("HSM unavailable for an on-demand OCSP signature; answering tryLater")
            return None
        finally:
            self._bound.release()

    def _on_demand(self, matched: list[tuple[CertRef, IssuingCa]], nonce: bytes | None) -> Answer:
        if self._signer is None:
            raise ResponderUnavailable("no signer configured for on-demand responses")
        if not self._bound.acquire(timeout=0.2):
            raise ResponderUnavailable("on-demand signing bound is full")
        try:
            now = whole_seconds(self._clock())
            singles = []
            for ref, ca in matched:
                in_range = 0 < ref.serial < MAX_SERIAL
                status = self._status.lookup(ca.issuer_id, ref.serial) if in_range else None
                if status is None or status.state == "unknown":
                    status = CertStatus.unknown()
                    validity = self._timing.unknown_validity
                else:
                    validity = self._timing.validity
                singles.append(
                    SingleSpec(
                        cert_id_der=ref.cert_id_der,
                        status=status,
                        this_update=now,
                        next_update=now + validity,
                    )
                )
            try:
                der = self._signer.build(singles, produced_at=now, nonce_ext_value=nonce)
            except HsmError as exc:
                raise ResponderUnavailable(f"HSM: {type(exc).__name__}") from None
        finally:
            self._bound.release()
        answer = Answer(
            outcome="successful",
            der=der,
            cacheable=nonce is None,
            this_update=now,
            next_update=min(s.next_update for s in singles),
            produced_at=now,
            etag='"' + hashlib.sha256(der).hexdigest()[:32] + '"',
        )
        return answer


_SKEW = timedelta(minutes=5)
"""A stored response whose thisUpdate is this far in our future is from a node with a
fast clock; do not serve it (clients would reject it, RFC 6960 §4.2.2.1)."""
