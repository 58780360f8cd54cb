"""The UZI-pas watch: a mobile ID is revoked when the card it was issued on is (issue 18).

A mobile ID is derived trust, worth what the UZI-pas of its proof is worth.
One pass (:meth:`UziWatch.run_once`; the server runs it on a thread every
``[uzi_watch] interval_seconds``, cron runs ``zorgid uzi watch --once``):

1. the cards watched: those a good, unexpired certificate was issued on
   (``issuer.store.uzi_watch.watched_cards``);
2. each card's issuing CA must be a CA of the trust set whose signature
   chains to an anchor within the set, and must have signed the card; only
   then are the card's CRL distribution points fetched (``fetch_crl``: http
   only, one deadline, a size cap, redirects on the same host), never before;
3. a URL is fetched when due: every interval, and no later than the CRL's
   ``nextUpdate`` (RFC 5280 §5.1.2.5);
4. the CRL is used only when its signature verifies with the key of the
   trust-set CA that is its issuer, it is current, and it is not older than
   the one applied last (no rollback); otherwise nothing changes;
5. every good certificate issued on a card the CRL lists -- or on a card of
   a UZI-register CA the CRL lists (each CA between a card and the anchor is
   watched on its own parent's CRL) -- is revoked through
   ``issuer.store.repo.revoke_certificate`` (which also ends its login
   sessions) with reason ``privilegeWithdrawn`` -- mobile IDs and smartcard
   certificates alike, and the smartcard is revoked (``issuer.uzi_watch_smartcards``);
   one on hold becomes
   ``privilegeWithdrawn`` at the time of the finding; each with an audit
   event naming the card's (and CA's) serial and the CRL's number; then OCSP
   re-signs and the CRL is published (the runtime's hooks);
6. a CRL not current for longer than ``unavailable_limit_seconds`` is
   reported (log and one audit event); by ``when_unavailable`` the mobile
   IDs of its cards are left alone ("report") or put on hold ("suspend",
   ``issuer.uzi_watch_hold``), and the watch's holds are released once
   every CRL over the card is current again.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding

from issuer.audit import AuditEvent, JsonValue
from issuer.issuance.certificates import REASON_CODES
from issuer.issuance.records import IssuedCertificate
from issuer.issuance.runtime import Issuance
from issuer.store import Connection, Engine
from issuer.store import uzi_watch as store
from issuer.store.repo import revoke_certificate
from issuer.store.transactions import read_transaction, write_transaction
from issuer.uzi.crl import CrlUnavailable, FetchLimits, fetch_crl
from issuer.uzi.trust import TrustSet, distribution_points, verified_cas
from issuer.uzi_watch_hold import CardRef, hold_card, is_current, publish, release_card
from issuer.uzi_watch_smartcards import revoke_smartcards
from issuer.uzi_watch_state import WatchTally

_LOG = logging.getLogger(__name__)

REASON = "privilegeWithdrawn"
"""RFC 5280 §5.3.1 reason of a revocation because the card, or a CA above it, was revoked
(docs/uzi.md: ``cACompromise`` is a CA certificate's reason, not an end entity's)."""
MAX_CHAIN = 8
"""CAs followed above a card towards its anchor (the UZI-register has two)."""
ACTOR = "uzi-watch"
RETRY_AFTER = timedelta(minutes=5)
"""After a failed fetch or an unusable CRL the URL is tried again this soon (or at the interval)."""

Fetch = Callable[[str], bytes]


@dataclass(frozen=True, kw_only=True)
class WatchSettings:
    """``[uzi_watch]``: how often CRLs are read, how long one may be missing before a report."""

    interval: timedelta = timedelta(hours=1)
    unavailable_limit: timedelta = timedelta(hours=24)
    suspend: bool = False
    """``when_unavailable = "suspend"``: hold the mobile IDs of cards under such a CRL."""


@dataclass(kw_only=True)
class PassReport:
    """What one pass did (printed by ``zorgid uzi watch --once``)."""

    cards: int = 0
    fetched: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    revoked: list[dict[str, JsonValue]] = field(default_factory=list)
    held: list[dict[str, JsonValue]] = field(default_factory=list)
    released: list[dict[str, JsonValue]] = field(default_factory=list)
    unavailable: list[str] = field(default_factory=list)
    next_due: datetime | None = None
    """The earliest time a CRL of the watched cards is due again (None: none watched)."""


@dataclass(frozen=True)
class _Card:
    watched: store.WatchedCard
    cert: x509.Certificate
    ca: x509.Certificate
    chain: tuple[x509.Certificate, ...]
    """The CAs from the card's issuer up to, not including, the anchor."""

    @property
    def ref(self) -> CardRef:
        return CardRef(
            issuer_sha256=self.watched.issuer_sha256,
            serial=self.watched.serial,
            issuer=self.cert.issuer.rfc4514_string(),
        )

    def urls(self) -> list[str]:
        """The CRLs over the card: its own and each CA's of its chain."""
        return list(
            dict.fromkeys(u for c in (self.cert, *self.chain) for u in distribution_points(c))
        )


@dataclass
class _Listed:
    """A certificate a CRL may list -- a card, or a CA above cards -- and the cards it covers."""

    cert: x509.Certificate
    cards: list[_Card]
    ca: bool

    @property
    def issuer_sha256(self) -> str:
        return _sha256(self.cert.issuer.public_bytes())


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _issued_by(cert: x509.Certificate, cas: Sequence[x509.Certificate]) -> x509.Certificate | None:
    """The CA of *cas* that signed *cert* (name and signature), or None."""
    for ca in cas:
        if ca.subject != cert.issuer:
            continue
        try:
            cert.verify_directly_issued_by(ca)
        except (InvalidSignature, ValueError, TypeError):
            _LOG.debug("card %x: not signed by %s", cert.serial_number, ca.subject)
            continue
        return ca
    return None


def _chain(ca: x509.Certificate, cas: Sequence[x509.Certificate]) -> tuple[x509.Certificate, ...]:
    """*ca* and its parents within *cas*, up to, not including, a self-signed anchor."""
    chain: list[x509.Certificate] = []
    cert: x509.Certificate | None = ca
    while cert is not None and cert.subject != cert.issuer and len(chain) < MAX_CHAIN:
        chain.append(cert)
        cert = _issued_by(cert, cas)
    return tuple(chain)


def _reason_of(entry: x509.RevokedCertificate) -> str | None:
    try:
        return entry.extensions.get_extension_for_class(x509.CRLReason).value.reason.value
    except x509.ExtensionNotFound:
        return None


def _signed(crl: x509.CertificateRevocationList, ca: x509.Certificate) -> bool:
    """Whether *ca*'s key verifies the CRL's signature (a key type it cannot be: no)."""
    key = ca.public_key()
    if not isinstance(key, (rsa.RSAPublicKey, ec.EllipticCurvePublicKey)):
        return False
    return crl.is_signature_valid(key)


def _load_crl(data: bytes) -> x509.CertificateRevocationList:
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            return x509.load_pem_x509_crl(data)
        return x509.load_der_x509_crl(data)
    except ValueError as exc:
        raise CrlUnavailable(f"not a CRL ({exc})") from None


def _crl_number(crl: x509.CertificateRevocationList) -> int | None:
    try:
        return int(crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number)
    except x509.ExtensionNotFound:
        return None


class UziWatch:
    """The watch over one database; ``issuance`` opens the HSM (audit key, OCSP) when needed."""

    def __init__(
        self,
        *,
        engine: Engine,
        trust: Callable[[], TrustSet],
        issuance: Callable[[], Issuance],
        settings: WatchSettings | None = None,
        clock: Callable[[], datetime] = _utc_now,
        limits: FetchLimits | None = None,
        fetch: Fetch | None = None,
    ) -> None:
        self.engine = engine
        self.settings = settings or WatchSettings()
        self._trust = trust
        self._issuance = issuance
        self._clock = clock
        self._limits = limits or FetchLimits()
        self._fetch = fetch or (lambda url: asyncio.run(fetch_crl(url, self._limits)))
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._tally = WatchTally(clock)
        self.state = self._tally.state
        """How the watch is doing (the metrics read it at each scrape)."""

    # -- one pass ------------------------------------------------------------------------

    def run_once(self, *, force: bool = False) -> PassReport:
        """Read the due CRLs of the watched cards and act on them; ``force``: every CRL now."""
        with self._lock:
            try:
                report = self._pass(force=force)
            except BaseException:
                self._tally.failed()
                raise
            self._tally.completed(report)
            return report

    def _pass(self, *, force: bool) -> PassReport:
        now = self._clock()
        report = PassReport()
        with read_transaction(self.engine) as conn:
            watched = store.watched_cards(conn, at=now)
        report.cards = len(watched)
        if not watched:
            return report
        cas = verified_cas(self._trust())
        urls: dict[str, dict[tuple[str, int], _Listed]] = {}
        cards: list[_Card] = []
        for item in watched:
            cert = x509.load_der_x509_certificate(item.der)
            ca = _issued_by(cert, cas)
            if ca is None:  # not under the trust set in force: its URLs are never fetched
                _LOG.warning("UZI watch: card %s is not signed by a trust-set CA", item.serial)
                continue
            card = _Card(item, cert, ca, _chain(ca, cas))
            cards.append(card)
            for subject in (cert, *card.chain):
                key = (_sha256(subject.issuer.public_bytes()), subject.serial_number)
                for url in distribution_points(subject):
                    listed = urls.setdefault(url, {}).setdefault(
                        key, _Listed(subject, [], subject is not cert)
                    )
                    listed.cards.append(card)
        with write_transaction(self.engine) as conn:
            for url in urls:
                store.watch_url(conn, url=url, at=now)
            states = {s.url: s for s in store.crl_states(conn)}
        for url, on_crl in urls.items():
            state = states[url]
            if force or state.next_fetch_at is None or state.next_fetch_at <= now:
                self._read(url, state, list(on_crl.values()), cas, now, report)
        self._report_unavailable(list(urls), now, report)
        self._hold_and_release(cards, now, report)
        return report

    def _read(
        self,
        url: str,
        state: store.WatchedCrl,
        on_crl: list[_Listed],
        cas: Sequence[x509.Certificate],
        now: datetime,
        report: PassReport,
    ) -> None:
        retry = now + min(RETRY_AFTER, self.settings.interval)
        try:
            crl = self._verified(url, state, cas, now)
        except CrlUnavailable as exc:
            _LOG.warning("UZI watch: CRL %s not used: %s", url, exc)
            report.failed[url] = str(exc)
            with write_transaction(self.engine) as conn:
                store.record_failure(conn, url=url, at=now, next_fetch_at=retry, error=str(exc))
            return
        report.fetched.append(url)
        number = _crl_number(crl)
        issuer_sha256 = _sha256(crl.issuer.public_bytes())
        revoked: list[IssuedCertificate] = []
        listed = [
            (subject, entry)
            for subject in on_crl
            if subject.issuer_sha256 == issuer_sha256
            for entry in [crl.get_revoked_certificate_by_serial_number(subject.cert.serial_number)]
            if entry is not None
        ]
        due = now + self.settings.interval
        if crl.next_update_utc is not None:
            due = min(due, crl.next_update_utc)
        issuance = self._issuance() if listed else None
        with write_transaction(self.engine) as conn:
            for subject, entry in listed:
                assert issuance is not None
                for card in subject.cards:
                    revoked += self._revoke_card(
                        conn,
                        issuance,
                        card,
                        entry,
                        url,
                        number,
                        now,
                        report,
                        via=subject.cert if subject.ca else None,
                    )
            store.record_success(
                conn,
                url=url,
                issuer_sha256=issuer_sha256,
                crl_number=number,
                crl_sha256=_sha256(crl.public_bytes(Encoding.DER)),
                this_update=crl.last_update_utc,
                next_update=crl.next_update_utc,
                at=now,
                next_fetch_at=max(due, now),
                revoked=len(revoked),
            )
        if issuance is not None:
            publish(issuance, revoked)

    def _verified(
        self,
        url: str,
        state: store.WatchedCrl,
        cas: Sequence[x509.Certificate],
        now: datetime,
    ) -> x509.CertificateRevocationList:
        """The CRL at *url* if a trust-set CA signed it, it is current and not a rollback."""
        crl = _load_crl(self._fetch(url))
        issuer = next(
            (ca for ca in cas if ca.subject == crl.issuer and _signed(crl, ca)),
            None,
        )
        if issuer is None:
            raise CrlUnavailable(
                f"signature of the CRL of {crl.issuer.rfc4514_string()!r} does not verify "
                "with the key of a trust-set CA of that name"
            )
        this, nxt = crl.last_update_utc, crl.next_update_utc
        if this > now or (nxt is not None and now >= nxt):
            raise CrlUnavailable(f"CRL valid {this:%Y-%m-%dT%H:%M:%SZ} to {nxt}, not current")
        if state.this_update is not None and this < state.this_update:
            raise CrlUnavailable(
                f"CRL of {this:%Y-%m-%dT%H:%M:%SZ} is older than the one applied "
                f"({state.this_update:%Y-%m-%dT%H:%M:%SZ})"
            )
        return crl

    def _revoke_card(
        self,
        conn: Connection,
        issuance: Issuance,
        card: _Card,
        entry: x509.RevokedCertificate,
        url: str,
        number: int | None,
        now: datetime,
        report: PassReport,
        *,
        via: x509.Certificate | None = None,
    ) -> list[IssuedCertificate]:
        """Revoke every good or held certificate issued on *card*, each with its audit event.

        *entry* lists the card itself, or (``via``) the CA of its chain that the CRL revokes.
        """
        listed: dict[str, JsonValue] = (
            {
                "card_revoked_at": entry.revocation_date_utc.isoformat(),
                "card_revocation_reason": _reason_of(entry),
            }
            if via is None
            else {
                "ca_serial": format(via.serial_number, "x"),
                "ca_subject": via.subject.rfc4514_string(),
                "ca_revoked_at": entry.revocation_date_utc.isoformat(),
                "ca_revocation_reason": _reason_of(entry),
            }
        )
        done: list[IssuedCertificate] = []
        ref = card.ref
        good = store.good_certificates_on_card(
            conn, issuer_sha256=ref.issuer_sha256, serial=ref.serial, at=now
        )
        held = store.held_certificates_on_card(
            conn, issuer_sha256=ref.issuer_sha256, serial=ref.serial, at=now, watch_only=False
        )
        for row, was_held in [*((r, False) for r in good), *((r, True) for r in held)]:
            cert = IssuedCertificate.from_row(row)
            change = store.revoke_held if was_held else revoke_certificate
            if not change(conn, issuer=cert.issuer, serial=cert.serial, at=now, reason=REASON):
                continue
            details: dict[str, JsonValue] = {
                "certificate_id": cert.id,
                "serial": cert.serial,
                "reason": REASON,
                "reason_code": REASON_CODES[REASON],
                "was_on_hold": was_held,
                "card_serial": ref.serial,
                "card_issuer": ref.issuer,
                **listed,
                "crl_number": number,
                "crl_url": url,
            }
            issuance.audit.append(
                conn,
                AuditEvent(
                    actor_role="engine",
                    actor_identity=ACTOR,
                    action="certificate.revoke",
                    subject=f"certificate:{cert.issuer[:16]}:{cert.serial}",
                    details=details,
                ),
            )
            _LOG.info(
                "UZI watch: revoked serial %s: card %s %s (CRL %s number %s)",
                cert.serial,
                ref.serial,
                "revoked" if via is None else f"under revoked CA {via.serial_number:x}",
                url,
                number,
            )
            report.revoked.append(details)
            done.append(
                dataclasses.replace(
                    cert, status="revoked", revoked_at=now, revocation_reason=REASON
                )
            )
        more: dict[str, JsonValue] = {**listed, "crl_number": number, "crl_url": url}
        revoke_smartcards(
            conn, issuance.audit, ref, at=now, reason=REASON, actor=ACTOR, details=more
        )
        return done

    def _hold_and_release(self, cards: list[_Card], now: datetime, report: PassReport) -> None:
        """Hold ("suspend") the cards under a CRL missing too long; release the watch's holds
        on cards whose every CRL verified and is current again."""
        late = set(report.unavailable)
        with read_transaction(self.engine) as conn:
            states = {s.url: s for s in store.crl_states(conn)}
        to_hold: list[tuple[_Card, list[store.WatchedCrl]]] = []
        to_release: list[tuple[_Card, list[store.WatchedCrl]]] = []
        for card in cards:
            mine = [states[u] for u in card.urls() if u in states]
            missing = [s for s in mine if s.url in late]
            if missing and self.settings.suspend and card.watched.good:
                to_hold.append((card, missing))
            elif card.watched.held and mine and all(is_current(s, now) for s in mine):
                to_release.append((card, mine))
        if not to_hold and not to_release:
            return
        issuance = self._issuance()
        changed: list[IssuedCertificate] = []
        limit = self.settings.unavailable_limit
        with write_transaction(self.engine) as conn:
            for card, missing in to_hold:
                for cert, details in hold_card(
                    conn, issuance.audit, card.ref, missing, now=now, limit=limit, actor=ACTOR
                ):
                    changed.append(cert)
                    report.held.append(details)
            for card, current in to_release:
                released, revoked = release_card(
                    conn, issuance.audit, card.ref, current, now=now, actor=ACTOR
                )
                for cert, details in released:
                    changed.append(cert)
                    report.released.append(details)
                for cert, details in revoked:
                    changed.append(cert)
                    report.revoked.append(details)
        publish(issuance, changed)

    def _report_unavailable(self, urls: list[str], now: datetime, report: PassReport) -> None:
        """Report, once per outage, each CRL not current for longer than the limit."""
        limit = self.settings.unavailable_limit
        with read_transaction(self.engine) as conn:
            states = [s for s in store.crl_states(conn) if s.url in urls]
        due = [s.next_fetch_at for s in states if s.next_fetch_at is not None]
        report.next_due = min(due, default=None)
        late = []
        for state in states:
            since = state.next_update if state.last_success_at else state.first_watched_at
            if since is None or now - since <= limit:
                continue
            report.unavailable.append(state.url)
            if state.reported_at is None:
                late.append(state)
        if not late:
            return
        issuance = self._issuance()
        with write_transaction(self.engine) as conn:
            for state in late:
                if not store.mark_reported(conn, url=state.url, at=now):
                    continue
                _LOG.error(
                    "UZI watch: no current CRL from %s for longer than %s (last error: %s); "
                    "mobile IDs of its cards are %s",
                    state.url,
                    limit,
                    state.last_error,
                    "put on hold" if self.settings.suspend else "left alone",
                )
                issuance.audit.append(
                    conn,
                    AuditEvent(
                        actor_role="engine",
                        actor_identity=ACTOR,
                        action="uzi.watch.crl_unavailable",
                        subject=f"crl:{state.url}",
                        outcome="failure",
                        details={
                            "url": state.url,
                            "last_success_at": state.last_success_at.isoformat()
                            if state.last_success_at
                            else None,
                            "next_update": state.next_update.isoformat()
                            if state.next_update
                            else None,
                            "last_error": state.last_error,
                            "limit_seconds": int(limit.total_seconds()),
                            "when_unavailable": "suspend" if self.settings.suspend else "report",
                        },
                    ),
                )

    # -- the server's thread -------------------------------------------------------------

    def start(self) -> None:
        """Run a pass now and then every interval, on a thread of its own (idempotent)."""
        if self._thread is not None:
            return
        self._stopping.clear()
        self._thread = threading.Thread(target=self._loop, name="uzi-watch", daemon=True)
        self._thread.start()
        _LOG.info(
            "UZI watch started: CRLs of watched cards every %s; missing longer than %s is "
            "reported%s",
            self.settings.interval,
            self.settings.unavailable_limit,
            " and their mobile IDs put on hold" if self.settings.suspend else "",
        )

    def stop(self) -> None:
        """Stop the thread after the pass in progress (if any)."""
        thread, self._thread = self._thread, None
        self._stopping.set()
        if thread is not None:
            thread.join(timeout=60)

    def _loop(self) -> None:
        while not self._stopping.is_set():
            report: PassReport | None = None
            try:
                report = self.run_once()
                if report.revoked or report.failed or report.held or report.released:
                    _LOG.info(
                        "UZI watch pass: %d cards, %d CRLs read, %d failed, %d revoked, "
                        "%d held, %d released",
                        report.cards,
                        len(report.fetched),
                        len(report.failed),
                        len(report.revoked),
                        len(report.held),
                        len(report.released),
                    )
            except Exception:  # the next pass tries again; the server keeps serving
                _LOG.exception("UZI watch pass failed")
            self._stopping.wait(self._wait(report))

    def _wait(self, report: PassReport | None) -> float:
        """Seconds until the next pass: the earliest CRL due, between 10 s and the interval."""
        interval = self.settings.interval.total_seconds()
        if report is None or report.next_due is None:
            return interval if report is not None else RETRY_AFTER.total_seconds()
        return max(10.0, min(interval, (report.next_due - self._clock()).total_seconds()))
