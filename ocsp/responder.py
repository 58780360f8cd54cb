"""Answer an OCSP request: from the pre-signed store (no HSM), or signed on demand.

Which path a request takes (RFC 6960 §2, RFC 5019 §2):

- one CertID of a known issuer, no nonce (or policy does not echo nonces):
  the stored pre-signed response, through a small in-memory cache. This is the
  RFC 5019 path every CDN and browser uses; it never signs.
- a nonce and ``echo_nonce`` (RFC 8954), several CertIDs, a CertID with a hash
  other than SHA-1/SHA-256, or an issued certificate whose stored response is
  missing or stale: signed now, within a rate (token bucket, ``sign_rate`` a
  second, ``sign_burst`` at once) and a concurrency bound (``max_on_demand``).
  Over either, a single-CertID request gets the pre-signed response (for a
  nonce request: without the nonce, RFC 8954 §2.1) and anything else ``tryLater``.
- a serial the engine never issued (no certificate row), or one that cannot be a
  serial at all: ``unauthorized`` (RFC 5019 §2.2.3), a fixed unsigned answer.
  A fresh signed ``unknown`` per serial would let anyone make the HSM sign at will
  (issue 16 item 4); docs/decisions/ocsp.md says why not one pre-signed answer.
- a CertID whose issuer we do not have: ``unauthorized`` (RFC 5019 §2.2.3:
  a responder that cannot answer authoritatively); that includes hash
  algorithms we do not know, which cannot name any issuer of ours; and CertIDs of
  two issuing CAs in one request (after a rollover each generation's answers are
  signed by its own responder, so no one signature is authoritative for both).
- more CertIDs than ``max_certids``, or bytes that are not an OCSP request:
  ``malformedRequest``.

The responder keeps no state but a cache and the rate's bucket, so any number of
them can serve one database. How long a cached answer is served, and how a revocation
made on another node reaches this cache (the store's change feed, else
``cache_seconds``): :mod:`ocsp.kept`.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from cryptography.x509 import ocsp as x509_ocsp

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
from ocsp.kept import AnswerCache, Kept, ResponseChanges
from ocsp.model import (
    CertState,
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

SigningReason = Literal["stale", "request"]
"""Why an answer needed a signature now: ``stale`` -- the certificate's stored response
is missing or past its time (the refresher is behind); ``request`` -- the request asks
for what no stored response holds (a nonce, several CertIDs, another CertID hash)."""

SigningResult = Literal["signed", "limited", "failed"]
"""``signed``; ``limited`` -- over the rate or the concurrency bound, so not signed;
``failed`` -- the HSM (or a missing signer) said no."""


@dataclass(frozen=True, kw_only=True)
class OnDemand:
    """An answer's attempt at an on-demand signature (the metrics count these)."""

    reason: SigningReason
    result: SigningResult


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
    cached: bool = False
    """Served from this responder's in-memory cache (no database read, no signature)."""
    on_demand: OnDemand | None = None
    """The on-demand signature this answer took or tried; ``None`` when it needed none."""
    kept: Kept | None = None
    """How long this responder serves it again without reading the store (``None``: it
    does not keep it). A copy kept elsewhere (the HTTP front's finished GET answers) asks
    :meth:`Responder.fresh` with it, so it lives no longer (:mod:`ocsp.kept`)."""

    @functools.cached_property
    def cert_status(self) -> CertState | None:
        """The certificate status a successful answer gives (of several: revoked if any
        is, else unknown if any is, else good); ``None`` for an error answer.

        Read back from the DER once per answer (answers are cached objects), only
        when asked: the metrics ask, the answer path never does.
        """
        if self.outcome != "successful":
            return None
        # cryptography's Rust parser: ~6x asn1crypto's, and every access line of an answer
        # read from the store asks once (issue 23).
        names = {
            single.certificate_status.name.lower()
            for single in x509_ocsp.load_der_ocsp_response(self.der).responses
        }
        if "revoked" in names:
            return "revoked"
        return "unknown" if "unknown" in names else "good"


def _error(outcome: Outcome, der: bytes) -> Answer:
    return Answer(outcome=outcome, der=der, cacheable=False)


def _tried(answer: Answer | None, reason: SigningReason, result: SigningResult) -> Answer | None:
    """*answer*, saying it tried an on-demand signature (unless it already says so)."""
    if answer is None or answer.on_demand is not None:
        return answer
    return dataclasses.replace(answer, on_demand=OnDemand(reason=reason, result=result))


class _NotSigned(ResponderUnavailable):
    """No on-demand signature, and why (for the answer's :class:`OnDemand`)."""

    def __init__(self, result: SigningResult, message: str) -> None:
        super().__init__(message)
        self.result: SigningResult = result


def _stored_answer(response: StoredResponse, on_demand: OnDemand | None = None) -> Answer:
    return Answer(
        outcome="successful",
        der=response.der,
        cacheable=True,
        this_update=response.this_update,
        next_update=response.next_update,
        produced_at=response.produced_at,
        etag='"' + hashlib.sha256(response.der).hexdigest()[:32] + '"',
        on_demand=on_demand,
    )


class SigningRate:
    """Token bucket for on-demand signatures: ``burst`` at once, refilled at ``rate`` a second.

    A concurrency bound alone lets a flood keep the HSM busy all the time (and the
    issuance cycle shares its lock): the rate bounds the HSM time anyone outside can
    take, whatever the number of connections. ``rate`` 0 turns on-demand signing off.
    """

    def __init__(
        self, *, rate: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if rate < 0 or burst < 1:
            raise ValueError(f"got rate {rate}, burst {burst}; expected rate >= 0, burst >= 1")
        self._rate = rate
        self._burst = float(burst)
        self._clock = clock
        self._tokens = float(burst)
        self._at = clock()
        self._lock = threading.Lock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self._burst, self._tokens + (now - self._at) * self._rate)
        self._at = now

    def take(self) -> bool:
        """Spend one signature if the bucket has one; never waits."""
        if self._rate == 0:
            return False
        with self._lock:
            self._refill()
            if self._tokens < 1:
                return False
            self._tokens -= 1
            return True


class Responder:
    """The OCSP answer logic, independent of HTTP and gRPC."""

    def __init__(
        self,
        *,
        issuers: IssuerIndex,
        status: StatusSource,
        presigner: PreSigner | None,
        store: ResponseStore,
        signers: Mapping[str, ResponseSigner] | None,
        timing: OcspTiming,
        clock: Clock = utc_now,
        cache_seconds: float = 5.0,
        cache_size: int = 100_000,
        keep_seconds: float = 0.0,
        changes: ResponseChanges | None = None,
        max_on_demand: int = 4,
        max_certids: int = 10,
        sign_rate: float = 20.0,
        sign_burst: int = 40,
        rate_clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._issuers = issuers
        self._status = status
        self._presigner = presigner
        self._store = store
        self._signers = dict(signers or {})
        """By issuer id (see :class:`~ocsp.presign.PreSigner`); empty: no on-demand signing."""
        self._timing = timing
        self._clock = clock
        self._cache: AnswerCache[Answer] = AnswerCache(
            cache_size,
            clock=clock,
            cache_seconds=cache_seconds,
            keep_seconds=keep_seconds,
            changes=changes,
        )
        self._bound = threading.BoundedSemaphore(max(1, max_on_demand))
        self._max_certids = max_certids
        self._rate = SigningRate(rate=sign_rate, burst=sign_burst, clock=rate_clock)
        self._prepaid = 0
        """Tokens the fast path took for requests it handed to :meth:`answer` (see _defer)."""
        self._prepaid_lock = threading.Lock()

    def fresh(self, kept: Kept) -> bool:
        """Whether an answer with this life may still be served (:mod:`ocsp.kept`)."""
        return self._cache.fresh(kept)

    @property
    def cache_size(self) -> int:
        """Answers kept at most (0: none), the bound of any copy made from them."""
        return self._cache.size

    def use_signer(self, issuer_id: str, signer: ResponseSigner) -> None:
        """On-demand responses for *issuer_id* from now on signed with *signer* (a renewed
        responder certificate); see :meth:`ocsp.presign.PreSigner.use_signer`."""
        self._signers[issuer_id] = signer

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
        hit = self._cache.get(request_der)
        if hit is not None:
            return hit
        try:
            request = parse_request(request_der)
        except MalformedRequest:
            return _error("malformedRequest", MALFORMED_REQUEST)
        if len(request.certs) > self._max_certids:
            # Before any lookup: the cost of a request is bounded by the cap, not by the
            # sender (RFC 5019 §2.1.1 clients send one CertID).
            return _error("malformedRequest", MALFORMED_REQUEST)
        matched: list[tuple[CertRef, IssuingCa]] = []
        for ref in request.certs:
            ca = self._issuers.find(ref.algorithm, ref.name_hash, ref.key_hash)
            if ca is None:
                return _error("unauthorized", UNAUTHORIZED)
            matched.append((ref, ca))
        if len({ca.issuer_id for _ref, ca in matched}) > 1:
            # Each issuing CA's answers are signed by its own responder (a retired CA by
            # itself): no one signature is authoritative for CertIDs of two of them.
            return _error("unauthorized", UNAUTHORIZED)
        wants_nonce = request.nonce_ext_value is not None and self._timing.echo_nonce
        single = len(matched) == 1 and matched[0][0].algorithm in PRESIGNED_ALGORITHMS
        if single and not wants_nonce:
            ref, ca = matched[0]
            return self._presigned(request_der, ca, ref.serial, now, allow_signing=allow_signing)
        read_at = self._clock()  # thisUpdate of a fresh answer never follows its status read
        statuses = [self._issued_status(ca, ref.serial) for ref, ca in matched]
        known = [status for status in statuses if status is not None]
        if len(known) != len(matched):
            return _error("unauthorized", UNAUTHORIZED)
        if not allow_signing:
            first_ref, first_ca = matched[0]
            return self._defer(
                lambda: _tried(
                    self._presigned(None, first_ca, first_ref.serial, now, allow_signing=False)
                    if single
                    else _error("tryLater", TRY_LATER),
                    "request",
                    "limited",
                )
            )
        try:
            nonce = request.nonce_ext_value if wants_nonce else None
            return self._on_demand(matched, known, nonce, read_at=read_at)
        except ResponderUnavailable as exc:
            result: SigningResult = exc.result if isinstance(exc, _NotSigned) else "failed"
            if single:
                # RFC 8954 §2.1 lets a responder answer without the nonce; better a
                # cacheable pre-signed answer than none when signing is over its bounds.
                ref, ca = matched[0]
                return _tried(self._presigned(None, ca, ref.serial, now), "request", result)
            return _tried(_error("tryLater", TRY_LATER), "request", result)

    def _issued_status(self, ca: IssuingCa, serial: int) -> CertStatus | None:
        """The status of a certificate the engine issued; ``None`` for any other serial."""
        if not 0 < serial < MAX_SERIAL:
            return None
        status = self._status.lookup(ca.issuer_id, serial)
        return None if status.state == "unknown" else status

    def _defer(self, over_rate: Callable[[], Answer | None]) -> Answer | None:
        """On the fast path, for a request that needs a signature: take its token now and
        return ``None`` (the caller runs :meth:`answer` in a worker), or, over the rate,
        the answer *over_rate* gives without signing. Deciding here sends a worker only
        the requests that will sign: a nonce flood wakes no thread per request."""
        if not self._rate.take():
            return over_rate()
        with self._prepaid_lock:
            self._prepaid += 1
        return None

    def _slot(self, timeout: float) -> bool:
        """One on-demand signature within the rate (a token the fast path took, else one
        from the bucket) and the concurrency bound; the caller releases ``self._bound``
        when this returns ``True``."""
        with self._prepaid_lock:
            prepaid = self._prepaid > 0
            if prepaid:
                self._prepaid -= 1
        if not prepaid and not self._rate.take():
            return False
        return self._bound.acquire(timeout=timeout)

    def _presigned(
        self,
        cache_key: bytes | None,
        ca: IssuingCa,
        serial: int,
        now: datetime,
        *,
        allow_signing: bool = True,
    ) -> Answer | None:
        """The stored response of *serial*; signed now (and stored) only if the engine
        issued it and the stored one is missing or stale. Kept in the cache under
        *cache_key* (the request bytes), unless ``None``: a nonce request never repeats,
        and a flood of them must not push every other answer out of the cache."""
        stored = self._store.get(ca.issuer_id, serial) if 0 < serial < MAX_SERIAL else None
        signed: OnDemand | None = None
        if stored is None or not stored.this_update - _SKEW <= now < stored.next_update:
            read_at = self._clock()  # before the status read: see PreSigner.sign_with_status
            status = self._issued_status(ca, serial)
            if status is None:
                return _error("unauthorized", UNAUTHORIZED)
            if not allow_signing:
                return self._defer(
                    lambda: _tried(_error("tryLater", TRY_LATER), "stale", "limited")
                )
            stored, result = self._sign_stored(ca, serial, status, read_at)
            if stored is None:
                return _tried(_error("tryLater", TRY_LATER), "stale", result)
            signed = OnDemand(reason="stale", result=result)
        answer = _stored_answer(stored, signed)
        if cache_key is None:  # a nonce request's: it never repeats
            return answer
        kept = self._cache.life((ca.issuer_id, serial), stored.produced_at, now, stored.next_update)
        if kept is None:
            return answer
        # Hits are as a repeat is: cached, and without the signature the first one took.
        self._cache.put(
            cache_key, kept, dataclasses.replace(answer, cached=True, on_demand=None, kept=kept)
        )
        return dataclasses.replace(answer, kept=kept)

    def _sign_stored(
        self, ca: IssuingCa, serial: int, status: CertStatus, read_at: datetime
    ) -> tuple[StoredResponse | None, SigningResult]:
        """A fresh pre-signed response of an issued certificate, stored; ``None`` (and why)
        when the rate, the concurrency bound or the HSM says no."""
        if self._presigner is None:
            return None, "failed"
        if not self._slot(timeout=0.5):
            return None, "limited"
        try:
            response, _ = self._presigner.sign_with_status(
                ca.issuer_id, serial, status=status, read_at=read_at
            )
            self._store.put(ca.issuer_id, serial, response)
            return response, "signed"
        except HsmError:
            _LOG.warning("HSM unavailable for an on-demand OCSP signature; answering tryLater")
            return None, "failed"
        finally:
            self._bound.release()

    def _on_demand(
        self,
        matched: list[tuple[CertRef, IssuingCa]],
        statuses: list[CertStatus],
        nonce: bytes | None,
        *,
        read_at: datetime,
    ) -> Answer:
        """Sign one response for *matched* with *statuses*, read at *read_at* (its thisUpdate
        and producedAt, in whole seconds: a revocation after the read is not denied)."""
        signer = self._signers.get(matched[0][1].issuer_id)
        if signer is None:
            raise _NotSigned("failed", "no signer configured for on-demand responses")
        if not self._slot(timeout=0.2):
            raise _NotSigned("limited", "on-demand signing is over its rate or bound")
        try:
            now = whole_seconds(read_at)
            singles = [
                SingleSpec(
                    cert_id_der=ref.cert_id_der,
                    status=status,
                    this_update=now,
                    next_update=now + self._timing.validity,
                )
                for (ref, _ca), status in zip(matched, statuses, strict=True)
            ]
            try:
                der = signer.build(singles, produced_at=now, nonce_ext_value=nonce)
            except HsmError as exc:
                raise _NotSigned("failed", f"HSM: {type(exc).__name__}") from None
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
            on_demand=OnDemand(reason="request", result="signed"),
        )
        return answer


_SKEW = timedelta(minutes=5)
"""A stored response whose thisUpdate is this far in our future is from a node with a
fast clock; do not serve it (clients would reject it, RFC 6960 §4.2.2.1)."""
