"""CRLs of the UZI-register: a cache that requests read, and a refresher that fills it off-line.

RFC 5280 section 5.1.2.5: a CRL is current until its ``nextUpdate``; fetching
it again before then gains nothing, so one download serves every verification
in that window (the UZI-register publishes about daily). CRLs are signed, so
plain HTTP is the norm (RFC 5280 4.2.1.13); the signature and scope are
checked by path validation, not here. CRLs can also be loaded from files for
offline use; a loaded CRL that is current for an issuer is preferred.

Issue 16 item 2 (a forged card made the engine fetch any URL, and a slow CRL
server held every gRPC worker) fixed the split between the two halves:

* a *request* only reads :class:`CrlCache` and, at most, names a URL it
  wants (:meth:`CrlCache.want`). Only :mod:`issuer.uzi.validate` and the
  trust set name URLs, and only distribution points of certificates whose
  signature verified up to a trust anchor;
* :class:`CrlRefresher` is the only thing that fetches: a background thread,
  a bounded number of fetches at once, each with one overall deadline, a size
  cap and no redirect off the distribution point's host (:func:`fetch_crl`).
  Why a fetch failed is logged, never handed to a caller (no port-scan oracle).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
import threading
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from asn1crypto import crl as asn1_crl
from asn1crypto import pem as asn1_pem

_LOG = logging.getLogger(__name__)

MAX_CRL_BYTES = 16 * 1024 * 1024
"""Largest CRL accepted; the UZI-register's and PKIoverheid's are a few MB at most."""
FETCH_DEADLINE_SECONDS = 15.0
"""One deadline for a whole fetch (connect, redirects, headers, body): a tarpit gains nothing."""
MAX_REDIRECTS = 3
MAX_CONCURRENT_FETCHES = 4
"""Fetches in flight at once per process: a slow register costs at most this many sockets."""
REFRESH_INTERVAL_SECONDS = 60.0
"""The refresher wakes at the latest this often by itself (else when a URL is due, or on
demand); a CRL downloaded fine is not downloaded again within this (or its refresh margin)."""
RETRY_FIRST = timedelta(seconds=1)
"""After a failed download the URL is tried again after this, doubling with each failure in
a row up to ``RETRY_MAX`` (each delay drawn from its upper half: jitter), reset by a success.
A URL a request asked for since its failure (no current CRL) is tried again after this
whatever the back-off, so a register back from an outage serves the next request within
seconds; one download in flight a URL keeps that at most one a ``RETRY_FIRST`` a URL."""
RETRY_MAX = timedelta(seconds=30)
"""The longest back-off after failed downloads of a URL nobody asks for."""
REFRESH_MARGIN = timedelta(hours=1)
"""A cached CRL is fetched again this long before ``nextUpdate`` (at most a quarter of its life)."""
MAX_WANTED_URLS = 256
"""Distribution points kept fresh; the UZI hierarchy has about ten."""


class CrlUnavailable(Exception):
    """No current CRL could be obtained for a distribution point (text for the log only)."""


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, kw_only=True)
class FetchLimits:
    """Bounds of one CRL download; the defaults are the module constants."""

    deadline_seconds: float = FETCH_DEADLINE_SECONDS
    max_bytes: int = MAX_CRL_BYTES
    max_redirects: int = MAX_REDIRECTS
    max_concurrent: int = MAX_CONCURRENT_FETCHES


@dataclass(frozen=True, kw_only=True)
class CrlEntry:
    """One parsed CRL and when it is current."""

    source: str
    der: bytes = field(repr=False)
    crl: asn1_crl.CertificateList = field(repr=False, compare=False)
    issuer_der: bytes = field(repr=False)
    this_update: datetime
    next_update: datetime | None
    sha256: str

    def current_at(self, at: datetime) -> bool:
        return self.this_update <= at and (self.next_update is None or at < self.next_update)

    def refresh_at(self) -> datetime:
        """When the refresher fetches it again: before ``nextUpdate``, by ``REFRESH_MARGIN``."""
        if self.next_update is None:
            return self.this_update + REFRESH_MARGIN
        margin = min(REFRESH_MARGIN, (self.next_update - self.this_update) / 4)
        return self.next_update - margin


@dataclass(frozen=True, kw_only=True)
class FetchFailure:
    """The last failed download of a URL: when, and why (for the log, never for a caller)."""

    at: datetime
    reason: str
    attempts: int = 1
    """Failed downloads in a row."""
    retry_at: datetime | None = None
    """When the refresher tries again by itself (None: ``at + RETRY_FIRST``)."""
    asked: bool = False
    """A request asked for the URL since (:meth:`CrlCache.want`): tried at ``at + RETRY_FIRST``."""

    def due_at(self) -> datetime:
        """When the URL may be downloaded again."""
        first = self.at + RETRY_FIRST
        if self.asked or self.retry_at is None:
            return first
        return max(first, self.retry_at)


def retry_delay(attempts: int, draw: Callable[[], float]) -> timedelta:
    """Back-off after *attempts* failed downloads in a row: ``RETRY_FIRST`` doubling up to
    ``RETRY_MAX``, drawn from the upper half (*draw* in [0, 1)) so that processes restarted
    together do not retry together."""
    ceiling = min(RETRY_MAX, RETRY_FIRST * 2 ** min(attempts - 1, 16))
    drawn: timedelta = ceiling * (0.5 + draw() / 2)
    return max(RETRY_FIRST, drawn)


def parse_crl(data: bytes, source: str) -> CrlEntry:
    """Parse a DER or PEM CRL; raise ``CrlUnavailable`` when it is not one."""
    try:
        if asn1_pem.detect(data):
            _, _, data = asn1_pem.unarmor(data)
        parsed = asn1_crl.CertificateList.load(data, strict=True)
        tbs = parsed["tbs_cert_list"]
        this_update = tbs["this_update"].native
        next_update = tbs["next_update"].native
        issuer_der = tbs["issuer"].dump()
    except (ValueError, TypeError, KeyError) as exc:
        raise CrlUnavailable(f"{source}: not a CRL ({exc})") from None
    return CrlEntry(
        source=source,
        der=data,
        crl=parsed,
        issuer_der=issuer_der,
        this_update=this_update,
        next_update=next_update,
        sha256=hashlib.sha256(data).hexdigest(),
    )


def _origin(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of an ``http://`` URL; anything else is refused."""
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise CrlUnavailable(f"{url}: only http:// distribution points are fetched")
    try:
        port = parts.port or 80
    except ValueError:
        raise CrlUnavailable(f"{url}: bad port") from None
    return parts.scheme, parts.hostname.lower(), port


async def fetch_crl(url: str, limits: FetchLimits | None = None) -> bytes:
    """GET a CRL within ``limits``: one overall deadline, a size cap, redirects on one host only.

    The deadline covers everything from the DNS lookup to the last byte, so a
    server that trickles a byte at a time is cut off like one that never
    answers. A redirect is followed only to the same scheme, host and port
    (a CRL server has no reason to send a client elsewhere; anything else
    would let it aim the engine at another host). Raises :class:`CrlUnavailable`.
    """
    import aiohttp  # here: importing the verifier (CLI, tests) need not load the HTTP client

    limits = limits or FetchLimits()
    try:
        async with asyncio.timeout(limits.deadline_seconds):
            return await _get(url, limits)
    except TimeoutError:
        raise CrlUnavailable(
            f"{url}: no complete answer within {limits.deadline_seconds:g} s"
        ) from None
    except (aiohttp.ClientError, OSError, ValueError) as exc:
        raise CrlUnavailable(f"{url}: {type(exc).__name__}: {exc}") from None


async def _get(url: str, limits: FetchLimits) -> bytes:
    import aiohttp

    origin = _origin(url)
    timeout = aiohttp.ClientTimeout(total=limits.deadline_seconds)
    async with aiohttp.ClientSession(
        timeout=timeout, auto_decompress=False, trust_env=False
    ) as session:
        for _ in range(limits.max_redirects + 1):
            async with session.get(
                url, allow_redirects=False, headers={"Accept-Encoding": "identity"}
            ) as resp:
                if resp.status in (301, 302, 303, 307, 308):
                    target = urljoin(url, resp.headers.get("Location", ""))
                    if _origin(target) != origin:
                        raise CrlUnavailable(f"{url}: redirect to another host refused")
                    url = target
                    continue
                if resp.status != 200:
                    raise CrlUnavailable(f"{url}: HTTP {resp.status}")
                if resp.content_length is not None and resp.content_length > limits.max_bytes:
                    raise CrlUnavailable(f"{url}: larger than {limits.max_bytes} bytes")
                body = bytearray()
                async for chunk in resp.content.iter_chunked(64 * 1024):
                    body += chunk
                    if len(body) > limits.max_bytes:
                        raise CrlUnavailable(f"{url}: larger than {limits.max_bytes} bytes")
                return bytes(body)
    raise CrlUnavailable(f"{url}: more than {limits.max_redirects} redirects")


class CrlCache:
    """Current CRLs by distribution-point URL, CRLs loaded from files, and the URLs wanted.

    Thread-safe; one instance is shared by all verifications of a process.
    Requests read it (:meth:`lookup`) and name what they miss (:meth:`want`);
    only a :class:`CrlRefresher` writes downloads into it.
    """

    def __init__(self, *, static: Iterable[CrlEntry] = ()) -> None:
        self._lock = threading.Lock()
        self._by_url: dict[str, CrlEntry] = {}
        self._static: list[CrlEntry] = list(static)
        self._failures: dict[str, FetchFailure] = {}
        self._wanted: dict[str, None] = {}
        self._listeners: list[Callable[[], None]] = []

    def load_file(self, path: Path) -> CrlEntry:
        entry = parse_crl(path.read_bytes(), str(path))
        with self._lock:
            self._static.append(entry)
        return entry

    @property
    def static(self) -> tuple[CrlEntry, ...]:
        with self._lock:
            return tuple(self._static)

    def lookup(self, url: str, issuer_der: bytes, at: datetime) -> CrlEntry | None:
        """The CRL in force at ``at`` for a certificate of this issuer and CRL DP, if cached."""
        with self._lock:
            for entry in self._static:
                if entry.issuer_der == issuer_der and entry.current_at(at):
                    return entry
            cached = self._by_url.get(url)
        if cached is not None and cached.current_at(at):
            return cached
        return None

    def fingerprint_for(self, url: str, issuer_der: bytes, at: datetime) -> str | None:
        """SHA-256 of the CRL that :meth:`lookup` returns now (None when there is none)."""
        entry = self.lookup(url, issuer_der, at)
        return entry.sha256 if entry is not None else None

    def entry(self, url: str) -> CrlEntry | None:
        """The last CRL downloaded from ``url``, current or not."""
        with self._lock:
            return self._by_url.get(url)

    def failure(self, url: str) -> FetchFailure | None:
        """The last download of ``url`` if it failed (cleared by a good one)."""
        with self._lock:
            return self._failures.get(url)

    def want(self, urls: Iterable[str]) -> None:
        """Ask for ``urls`` to be kept fresh, and wake the refresher; a URL whose last
        download failed is tried again ``RETRY_FIRST`` after the failure, back-off or not.

        Call it only with distribution points of certificates whose signature
        verified up to a trust anchor (or named by the trust set): whatever is
        named here will be fetched.
        """
        with self._lock:
            for url in urls:
                failed = self._failures.get(url)
                if failed is not None and not failed.asked:
                    self._failures[url] = replace(failed, asked=True)
                if url in self._wanted:
                    continue
                if len(self._wanted) >= MAX_WANTED_URLS:
                    _LOG.warning("CRL %s not kept fresh: %d URLs already", url, MAX_WANTED_URLS)
                    continue
                self._wanted[url] = None
            listeners = list(self._listeners)
        for wake in listeners:
            wake()

    def wanted(self) -> tuple[str, ...]:
        with self._lock:
            return tuple(self._wanted)

    def subscribe(self, wake: Callable[[], None]) -> None:
        """Call ``wake`` whenever :meth:`want` is called (the refresher's doorbell)."""
        with self._lock:
            self._listeners.append(wake)

    def unsubscribe(self, wake: Callable[[], None]) -> None:
        with self._lock:
            if wake in self._listeners:
                self._listeners.remove(wake)

    def store(self, url: str, entry: CrlEntry) -> None:
        """Keep a downloaded CRL unless an issued-later one is cached (no rollback)."""
        with self._lock:
            old = self._by_url.get(url)
            if old is None or entry.this_update >= old.this_update:
                self._by_url[url] = entry
            self._failures.pop(url, None)

    def record_failure(self, url: str, failure: FetchFailure) -> None:
        with self._lock:
            self._failures[url] = failure


Fetch = Callable[[str], Awaitable[bytes]]


class CrlRefresher:
    """Keeps the wanted CRLs of one :class:`CrlCache` current, on a thread of its own.

    A URL is due when it has no CRL, or its CRL reaches
    :meth:`CrlEntry.refresh_at` by ``clock`` (and was not downloaded within
    ``interval_seconds`` or its refresh margin), or, after a failed download, at
    :meth:`FetchFailure.due_at` (a back-off from ``RETRY_FIRST`` to ``RETRY_MAX``,
    ``RETRY_FIRST`` once a request asked for it). The thread runs an event loop that
    wakes when the next URL is due, at the latest every ``interval_seconds``, and when
    the cache is asked for a URL, and starts at most ``limits.max_concurrent``
    downloads at once (one per URL).
    :meth:`start` and :meth:`stop` tie it to the server
    (:func:`issuer.server.app.uzi_service_binding`).
    """

    def __init__(
        self,
        cache: CrlCache,
        *,
        clock: Callable[[], datetime] = utc_now,
        limits: FetchLimits | None = None,
        interval_seconds: float = REFRESH_INTERVAL_SECONDS,
        fetch: Fetch | None = None,
        draw: Callable[[], float] = random.random,
    ) -> None:
        self.cache = cache
        self._draw = draw
        self.clock = clock
        self.limits = limits or FetchLimits()
        self._interval = interval_seconds
        self._fetch: Fetch = fetch or (lambda url: fetch_crl(url, self.limits))
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._wake: asyncio.Event | None = None
        self._stopping: asyncio.Event | None = None
        self._gate: asyncio.Semaphore | None = None
        self._inflight: dict[str, asyncio.Task[None]] = {}
        self._fetched: dict[str, datetime] = {}
        """When each URL last gave a CRL (the loop's thread only)."""

    # -- life cycle (any thread) -------------------------------------------------------

    def start(self) -> None:
        """Start the thread (idempotent); it begins with a pass over the wanted URLs."""
        with self._lock:
            if self._thread is not None:
                return
            loop = asyncio.new_event_loop()
            ready = threading.Event()
            self._loop = loop
            self._thread = threading.Thread(
                target=self._run, args=(loop, ready), name="uzi-crl-refresher", daemon=True
            )
            self._thread.start()
        ready.wait()
        self.cache.subscribe(self.poke)

    def stop(self) -> None:
        """Stop the thread; downloads in flight are cancelled."""
        self.cache.unsubscribe(self.poke)
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is None or thread is None:
            return
        stopping = self._stopping
        if stopping is not None:
            loop.call_soon_threadsafe(stopping.set)
        thread.join(timeout=30)

    @property
    def running(self) -> bool:
        return self._thread is not None

    def poke(self) -> None:
        """Look for due URLs now (thread-safe, returns at once)."""
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None:
            loop.call_soon_threadsafe(wake.set)

    def refresh_now(self, timeout: float) -> bool:
        """Start every due download and wait for all downloads in flight, at most ``timeout`` s.

        For start-up (a hard-mode server waits for its first CRLs), the CLI
        and tests. True when everything due was tried within ``timeout``.
        """
        loop = self._loop
        if loop is None:
            raise RuntimeError("CrlRefresher.refresh_now before start()")
        future = asyncio.run_coroutine_threadsafe(self._settle(), loop)
        try:
            future.result(timeout)
        except TimeoutError:
            return False
        return True

    # -- the thread ----------------------------------------------------------------------

    def _run(self, loop: asyncio.AbstractEventLoop, ready: threading.Event) -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._main(ready))
        finally:
            loop.close()

    async def _main(self, ready: threading.Event) -> None:
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._gate = asyncio.Semaphore(self.limits.max_concurrent)
        ready.set()
        stopping = asyncio.ensure_future(self._stopping.wait())
        try:
            while not self._stopping.is_set():
                self._wake.clear()
                self._start_due()
                waking = asyncio.ensure_future(self._wake.wait())
                await asyncio.wait(
                    {waking, stopping},
                    timeout=self._sleep(),
                    return_when=asyncio.FIRST_COMPLETED,
                )
                waking.cancel()
        finally:
            stopping.cancel()
            tasks = list(self._inflight.values())
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    def _due_at(self, url: str) -> datetime | None:
        """When ``url`` is to be downloaded next (None: now in flight; past: due now)."""
        if url in self._inflight:
            return None
        failure = self.cache.failure(url)
        if failure is not None:
            return failure.due_at()
        entry = self.cache.entry(url)
        if entry is None:
            return datetime.min.replace(tzinfo=UTC)
        due = entry.refresh_at()
        fetched = self._fetched.get(url)
        if fetched is not None:  # a CRL near its end when fetched is not fetched again at once
            margin = (entry.next_update or due + REFRESH_MARGIN) - due
            due = max(due, fetched + min(margin, timedelta(seconds=self._interval)))
        return due

    def _due(self, url: str, now: datetime) -> bool:
        due = self._due_at(url)
        return due is not None and now >= due

    def _sleep(self) -> float:
        """Seconds until the next URL is due, at most the interval, at least 50 ms."""
        now = self.clock()
        dues = [d for url in self.cache.wanted() if (d := self._due_at(url)) is not None]
        if not dues:
            return self._interval
        return min(self._interval, max(0.05, (min(dues) - now).total_seconds()))

    def _start_due(self) -> None:
        now = self.clock()
        for url in self.cache.wanted():
            if self._due(url, now):
                self._inflight[url] = asyncio.ensure_future(self._refresh(url))

    async def _settle(self) -> None:
        self._start_due()
        while self._inflight:
            await asyncio.gather(*self._inflight.values(), return_exceptions=True)

    async def _refresh(self, url: str) -> None:
        assert self._gate is not None
        try:
            async with self._gate:
                previous = self.cache.failure(url)
                try:
                    entry = parse_crl(await self._fetch(url), url)
                except CrlUnavailable as exc:
                    _LOG.warning("CRL download failed: %s", exc)
                    self._failed(url, str(exc), previous)
                    return
                self.cache.store(url, entry)
                now = self.clock()
                self._fetched[url] = now
                if not entry.current_at(now):
                    reason = (
                        f"{url}: CRL valid {entry.this_update:%Y-%m-%dT%H:%M:%SZ} to "
                        f"{entry.next_update}, not current at {now:%Y-%m-%dT%H:%M:%SZ}"
                    )
                    _LOG.warning("CRL download not current: %s", reason)
                    self._failed(url, reason, previous)  # a stale CRL backs off too
        finally:
            self._inflight.pop(url, None)
            if self._wake is not None:  # the loop sleeps until the next URL due: now this one
                self._wake.set()

    def _failed(self, url: str, reason: str, previous: FetchFailure | None) -> None:
        """Record a failed download and when to try again (back-off with jitter), counting
        from the failure before it (*previous*)."""
        now = self.clock()
        attempts = previous.attempts + 1 if previous is not None else 1
        self.cache.record_failure(
            url,
            FetchFailure(
                at=now,
                reason=reason,
                attempts=attempts,
                retry_at=now + retry_delay(attempts, self._draw),
            ),
        )
