"""CRLs of the UZI-register: fetched from the distribution point, cached until ``nextUpdate``.

RFC 5280 section 5.1.2.5: a CRL is current until its ``nextUpdate``; fetching
it again before then gains nothing, so one download serves every verification
in that window (the UZI-register publishes about daily). CRLs are signed, so
plain HTTP is the norm (RFC 5280 4.2.1.13); the signature and scope are
checked by path validation, not here. CRLs can also be loaded from files for
offline use; a loaded CRL that is current for an issuer is preferred over a
download.
"""

from __future__ import annotations

import hashlib
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from asn1crypto import crl as asn1_crl
from asn1crypto import pem as asn1_pem

MAX_CRL_BYTES = 32 * 1024 * 1024
"""Largest CRL read from the network; the UZI-register's are a few MB at most."""
FETCH_TIMEOUT_SECONDS = 5.0
RETRY_AFTER = timedelta(seconds=30)
"""After a failed download, the URL is not tried again for this long: during an
outage of the register every verification would otherwise wait for the timeout."""


class CrlUnavailable(Exception):
    """No current CRL could be obtained for a distribution point."""


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


def http_get(url: str) -> bytes:
    """Download a CRL over HTTP (only ``http://``: the CRL carries its own signature)."""
    if not url.startswith("http://"):
        raise CrlUnavailable(f"{url}: only http:// distribution points are fetched")
    try:
        with urllib.request.urlopen(url, timeout=FETCH_TIMEOUT_SECONDS) as resp:  # noqa: S310
            data: bytes = resp.read(MAX_CRL_BYTES + 1)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise CrlUnavailable(f"{url}: {exc}") from None
    if len(data) > MAX_CRL_BYTES:
        raise CrlUnavailable(f"{url}: larger than {MAX_CRL_BYTES} bytes")
    return data


class CrlCache:
    """Current CRLs by distribution-point URL, plus CRLs loaded from files.

    Thread-safe; one instance is shared by all verifications of a process.
    A failed download is remembered for ``RETRY_AFTER`` (by the caller's
    moment ``at``), then tried again.
    """

    def __init__(
        self,
        *,
        fetch: Callable[[str], bytes] = http_get,
        static: Iterable[CrlEntry] = (),
    ) -> None:
        self._fetch = fetch
        self._lock = threading.Lock()
        self._by_url: dict[str, CrlEntry] = {}
        self._static: list[CrlEntry] = list(static)
        self._failed_until: dict[str, tuple[datetime, str]] = {}

    def load_file(self, path: Path) -> CrlEntry:
        entry = parse_crl(path.read_bytes(), str(path))
        with self._lock:
            self._static.append(entry)
        return entry

    @property
    def static(self) -> tuple[CrlEntry, ...]:
        with self._lock:
            return tuple(self._static)

    def get(self, url: str, issuer_der: bytes, at: datetime) -> CrlEntry:
        """The CRL in force at ``at`` for a certificate of this issuer with this CRL DP."""
        with self._lock:
            for entry in self._static:
                if entry.issuer_der == issuer_der and entry.current_at(at):
                    return entry
            cached = self._by_url.get(url)
            failed = self._failed_until.get(url)
        if cached is not None and cached.current_at(at):
            return cached
        if failed is not None and at < failed[0]:
            raise CrlUnavailable(f"{failed[1]} (not retried before {failed[0]:%H:%M:%SZ})")
        try:
            entry = parse_crl(self._fetch(url), url)
            if not entry.current_at(at):
                raise CrlUnavailable(
                    f"{url}: CRL valid {entry.this_update:%Y-%m-%dT%H:%M:%SZ} to "
                    f"{entry.next_update}, not current at {at:%Y-%m-%dT%H:%M:%SZ}"
                )
        except CrlUnavailable as exc:
            with self._lock:
                self._failed_until[url] = (at + RETRY_AFTER, str(exc))
            raise
        with self._lock:
            self._by_url[url] = entry
            self._failed_until.pop(url, None)
        return entry

    def fingerprint_for(self, url: str, issuer_der: bytes, at: datetime) -> str | None:
        """SHA-256 of the CRL that :meth:`get` would return now, without fetching."""
        with self._lock:
            for entry in self._static:
                if entry.issuer_der == issuer_der and entry.current_at(at):
                    return entry.sha256
            cached = self._by_url.get(url)
        if cached is not None and cached.current_at(at):
            return cached.sha256
        return None
