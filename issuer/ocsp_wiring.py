"""The engine's side of ``ocsp``: its ports over our store, and one object to wire.

``ocsp`` knows nothing of the engine (ARCHITECTURE.md §3); here we implement
its :class:`~ocsp.model.StatusSource`, :class:`~ocsp.model.ResponseStore` and
:class:`~ocsp.model.CrlStore` over ``issuer.store`` and build an
:class:`OcspService` the composition roots (``zorgid serve``, ``zorgid ocsp
serve``, ``zorgid dev``) and the issuance cycle use::

    service = OcspService.build(engine=engine, material=load_ca_material(data_dir),
                                hsm=hsm, policy=policy.ocsp)
    cycle = IssuanceCycle(..., hooks=service)        # before_store / on_revoked
    service.revoke(issuer_id, serial_hex, at=now, reason="keyCompromise")
    service.refresh()                                # everything due, then CRLs

Serials cross this line as the store keeps them (lowercase hex, no leading
zeros, ``issuer.store.schema``) and become ``int`` inside ``ocsp``.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

import sqlalchemy as sa
from aiohttp import web
from cryptography.hazmat.primitives.serialization import Encoding

from hsm import Hsm
from issuer.ca import CaMaterial, load_ca_material
from issuer.ca.material import check_keys
from issuer.config import Config, parse_listen
from issuer.policy_store import read_active
from issuer.store import READ_ONLY, CrlNumberError, check_schema, create_engine_for, repo
from issuer.store.prepared import Prepared
from issuer.store.reads import ReadConnections
from issuer.store.schema import certificates, crls, ocsp_responses
from issuer.store.transactions import write_transaction
from issuer.store.types import from_utc_text
from ocsp.codec import ResponseSigner, response_cert_state
from ocsp.crl import CrlPublisher
from ocsp.http import CrlCache, HttpRoutes, build_app
from ocsp.issuers import IssuerIndex, IssuingCa, spki_sha256
from ocsp.model import (
    CertStatus,
    DueItem,
    OcspTiming,
    RevokedEntry,
    StoredCrl,
    StoredResponse,
)
from ocsp.presign import Clock, PreSigner, RefreshReport, utc_now
from ocsp.responder import Responder
from policies import OcspPolicy, Policy, default_policy, load_policy

_LOG = logging.getLogger(__name__)


def serial_hex(serial: int) -> str:
    """The store's serial form (``issuer.store.schema``: lowercase hex, no leading zeros)."""
    return format(serial, "x")


def timing_from_policy(policy: OcspPolicy) -> OcspTiming:
    """``[ocsp]`` of the issuance policy as ``ocsp``'s plain timing value."""
    return OcspTiming(
        validity=timedelta(seconds=policy.response_validity_seconds),
        refresh_fraction=policy.refresh_fraction,
        crl_validity=timedelta(seconds=policy.crl_next_update_seconds),
        echo_nonce=policy.echo_nonce,
    )


def _status_of(row: Any) -> CertStatus:
    if row.status == "revoked":
        return CertStatus.revoked(row.revoked_at, row.revocation_reason)
    return CertStatus.good()


_STATUS_QMARK = (
    "SELECT status, revoked_at, revocation_reason FROM certificates WHERE issuer = ? AND serial = ?"
)
_STATUS_FORMAT = (
    "SELECT status, revoked_at, revocation_reason FROM certificates "
    "WHERE issuer = %s AND serial = %s"
)
_STATUS_SQL = {"qmark": _STATUS_QMARK, "format": _STATUS_FORMAT, "pyformat": _STATUS_FORMAT}
"""The status read in the DB-API's parameter style (sqlite3: qmark; psycopg: format)."""


class StoreStatusSource:
    """Certificate status from ``certificates`` (RFC 6960 §2.2 good / revoked / unknown)."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine
        self._sql = _STATUS_SQL.get(engine.dialect.paramstyle)
        self._reads = ReadConnections.for_engine(engine)

    def lookup(self, issuer_id: str, serial: int) -> CertStatus:
        """One indexed SELECT on a kept autocommit connection (issuer.store.reads).

        Every OCSP request that is not a pre-signed hit makes one -- a never-issued
        serial is refused on it -- so it must cost what a request from a stranger
        may cost: ~20 us, not SQLAlchemy's ~300 us.
        """
        if self._sql is None:
            return self._lookup_core(issuer_id, serial)
        row = self._reads.fetch(self._sql, (issuer_id, serial_hex(serial)), one=True)
        if row is None:
            return CertStatus.unknown()
        if row[0] == "revoked":
            return CertStatus.revoked(from_utc_text(str(row[1])), row[2])
        return CertStatus.good()

    def _lookup_core(self, issuer_id: str, serial: int) -> CertStatus:
        with self._engine.connect() as conn:
            row = (
                conn.execution_options(**{READ_ONLY: True})
                .execute(
                    sa.select(
                        certificates.c.status,
                        certificates.c.revoked_at,
                        certificates.c.revocation_reason,
                    ).where(
                        certificates.c.issuer == issuer_id,
                        certificates.c.serial == serial_hex(serial),
                    )
                )
                .first()
            )
        return CertStatus.unknown() if row is None else _status_of(row)

    def revoked(self, issuer_id: str, *, now: datetime) -> Sequence[RevokedEntry]:
        with self._engine.connect() as conn:
            rows = conn.execution_options(**{READ_ONLY: True}).execute(
                sa.select(
                    certificates.c.serial,
                    certificates.c.revoked_at,
                    certificates.c.revocation_reason,
                )
                .where(
                    certificates.c.issuer == issuer_id,
                    certificates.c.status == "revoked",
                    certificates.c.not_after > now,
                )
                .order_by(certificates.c.revoked_at, certificates.c.serial)
            )
            return [
                RevokedEntry(
                    serial=int(r.serial, 16), revoked_at=r.revoked_at, reason=r.revocation_reason
                )
                for r in rows
            ]


_SELECT_QMARK = (
    "SELECT der, this_update, next_update, produced_at FROM ocsp_responses "
    "WHERE issuer = ? AND serial = ?"
)
_SELECT_FORMAT = (
    "SELECT der, this_update, next_update, produced_at FROM ocsp_responses "
    "WHERE issuer = %s AND serial = %s"
)
"""The serving lookup in the DB-API's parameter style (sqlite3: qmark; psycopg: format)."""


class StoreResponses:
    """Pre-signed responses in ``ocsp_responses`` (one row per certificate)."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine
        self._local = threading.local()
        self._sql = _SELECT_QMARK if engine.dialect.paramstyle == "qmark" else _SELECT_FORMAT

    def get(self, issuer_id: str, serial: int) -> StoredResponse | None:
        """One indexed SELECT on a DB-API connection kept per thread (the serving hot path).

        SQLAlchemy's statement machinery costs ~300 µs a call, ten times the
        query; this path is read-only and autocommit (no snapshot held open
        between requests), and falls back to the SQLAlchemy path on any error.
        """
        try:
            return self._get_raw(issuer_id, serial_hex(serial))
        except Exception:
            self._drop_raw()
            _LOG.warning("raw OCSP lookup failed; using the SQLAlchemy path", exc_info=True)
            return self._get_core(issuer_id, serial)

    def _get_raw(self, issuer_id: str, serial: str) -> StoredResponse | None:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._engine.raw_connection()
            driver = conn.driver_connection
            if self._engine.dialect.name == "sqlite":
                driver.isolation_level = None  # type: ignore[union-attr]
            else:
                driver.autocommit = True  # type: ignore[union-attr]
            self._local.conn = conn
        cursor = conn.cursor()
        try:
            cursor.execute(self._sql, (issuer_id, serial))
            row = cursor.fetchone()
        finally:
            cursor.close()
        if row is None:
            return None
        return StoredResponse(
            der=bytes(row[0]),
            this_update=datetime.fromisoformat(row[1]),
            next_update=datetime.fromisoformat(row[2]),
            produced_at=datetime.fromisoformat(row[3]),
        )

    def _drop_raw(self) -> None:
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            try:
                conn.invalidate()
            except Exception:
                _LOG.debug("closing a broken raw connection failed", exc_info=True)

    def _get_core(self, issuer_id: str, serial: int) -> StoredResponse | None:
        with self._engine.connect() as conn:
            row = (
                conn.execution_options(**{READ_ONLY: True})
                .execute(
                    sa.select(
                        ocsp_responses.c.der,
                        ocsp_responses.c.this_update,
                        ocsp_responses.c.next_update,
                        ocsp_responses.c.produced_at,
                    ).where(
                        ocsp_responses.c.issuer == issuer_id,
                        ocsp_responses.c.serial == serial_hex(serial),
                    )
                )
                .first()
            )
        if row is None:
            return None
        return StoredResponse(
            der=bytes(row.der),
            this_update=row.this_update,
            next_update=row.next_update,
            produced_at=row.produced_at,
        )

    def put(self, issuer_id: str, serial: int, response: StoredResponse) -> bool:
        """Keep *response* if newer. On SQLite it queues on the process's writer lock with
        issuance (:func:`~issuer.store.transactions.write_transaction`) instead of sleeping in
        SQLite's busy handler while a batch commits."""
        with write_transaction(self._engine) as conn:
            return repo.save_ocsp_response(
                conn,
                issuer=issuer_id,
                serial=serial_hex(serial),
                der=response.der,
                this_update=response.this_update,
                next_update=response.next_update,
                produced_at=response.produced_at,
            )

    def due(self, *, now: datetime, next_update_before: datetime, limit: int) -> Sequence[DueItem]:
        """Missing or near-``nextUpdate`` responses, then revoked certificates whose stored
        response does not say ``revoked`` (their ``on_revoked`` hook failed or ran on a node
        that died): those are re-signed at the next refresh, not at their refresh point.

        The second check reads the DER of each unexpired revoked certificate's
        response (~30 µs each); a ``status`` column on ``ocsp_responses`` would make
        it one SQL condition -- see docs/decisions/ocsp.md.
        """
        c, r = certificates, ocsp_responses
        joined = c.outerjoin(r, sa.and_(r.c.issuer == c.c.issuer, r.c.serial == c.c.serial))
        query = (
            sa.select(c.c.issuer, c.c.serial, c.c.status, c.c.revoked_at, c.c.revocation_reason)
            .select_from(joined)
            .where(
                c.c.not_after > now,
                sa.or_(r.c.serial.is_(None), r.c.next_update < next_update_before),
            )
            .order_by(r.c.next_update)
            .limit(limit)
        )
        stale_revoked = (
            sa.select(c.c.issuer, c.c.serial, c.c.revoked_at, c.c.revocation_reason, r.c.der)
            .select_from(c.join(r, sa.and_(r.c.issuer == c.c.issuer, r.c.serial == c.c.serial)))
            .where(
                c.c.status == "revoked",
                c.c.not_after > now,
                r.c.next_update >= next_update_before,
            )
        )
        with self._engine.connect() as conn:
            conn = conn.execution_options(**{READ_ONLY: True})
            items = [
                DueItem(issuer_id=row.issuer, serial=int(row.serial, 16), status=_status_of(row))
                for row in conn.execute(query)
            ]
            for row in conn.execute(stale_revoked):
                if len(items) >= limit:
                    break
                if response_cert_state(bytes(row.der)) != "revoked":
                    status = CertStatus.revoked(row.revoked_at, row.revocation_reason)
                    items.append(
                        DueItem(issuer_id=row.issuer, serial=int(row.serial, 16), status=status)
                    )
        return items

    def count_due(self, *, now: datetime, next_update_before: datetime) -> int:
        """How many responses :meth:`due` would return without a limit (first query only)."""
        c, r = certificates, ocsp_responses
        joined = c.outerjoin(r, sa.and_(r.c.issuer == c.c.issuer, r.c.serial == c.c.serial))
        query = (
            sa.select(sa.func.count())
            .select_from(joined)
            .where(
                c.c.not_after > now,
                sa.or_(r.c.serial.is_(None), r.c.next_update < next_update_before),
            )
        )
        with self._engine.connect() as conn:
            return int(conn.execution_options(**{READ_ONLY: True}).execute(query).scalar() or 0)


_INSERT_RESPONSE = Prepared(
    ocsp_responses.insert(), keys=tuple(c.key for c in ocsp_responses.columns)
)
"""Compiled once, run on the DB-API cursor: SQLAlchemy's execute costs more than the SQL."""


class StoreCrls:
    """Signed CRLs in ``crls`` (numbers strictly increasing per issuer)."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine

    def latest(self, issuer_id: str) -> StoredCrl | None:
        with self._engine.connect() as conn:
            row = (
                conn.execution_options(**{READ_ONLY: True})
                .execute(
                    sa.select(crls)
                    .where(crls.c.issuer == issuer_id)
                    .order_by(crls.c.number.desc())
                    .limit(1)
                )
                .first()
            )
        if row is None:
            return None
        return StoredCrl(
            number=int(row.number),
            der=bytes(row.der),
            this_update=row.this_update,
            next_update=row.next_update,
        )

    def next_number(self, issuer_id: str) -> int:
        with self._engine.connect() as conn:
            return repo.next_crl_number(conn, issuer=issuer_id)

    def put(self, issuer_id: str, crl: StoredCrl) -> bool:
        try:
            with write_transaction(self._engine) as conn:
                repo.store_crl(
                    conn,
                    issuer=issuer_id,
                    number=crl.number,
                    der=crl.der,
                    this_update=crl.this_update,
                    next_update=crl.next_update,
                )
            return True
        except CrlNumberError:
            return False


class IssuedLike(Protocol):
    """What the issuance hooks hand us (``issuer.issuance.IssuedCertificate`` fits)."""

    @property
    def issuer(self) -> str: ...

    @property
    def serial(self) -> str: ...


@dataclass(frozen=True, kw_only=True)
class OcspService:
    """Everything OCSP/CRL of one engine process, wired over one database and one token."""

    issuers: IssuerIndex
    status: StoreStatusSource
    responses: StoreResponses
    crl_store: StoreCrls
    presigner: PreSigner
    crls: CrlPublisher
    responder: Responder
    timing: OcspTiming

    @classmethod
    def build(
        cls,
        *,
        engine: sa.Engine,
        material: CaMaterial,
        hsm: Hsm,
        policy: OcspPolicy | OcspTiming,
        clock: Clock = utc_now,
        cache_seconds: float = 5.0,
        max_on_demand: int = 4,
        max_certids: int = 10,
        sign_rate: float = 20.0,
        sign_burst: int = 40,
    ) -> OcspService:
        """Wire one process's OCSP/CRL objects; the limits are ``[ocsp]`` of the config
        (issuer.config.OcspConfig: ``max_on_demand``, ``max_certids``, ``sign_rate``,
        ``sign_burst``) and bound what a request from outside can make the HSM do."""
        timing = policy if isinstance(policy, OcspTiming) else timing_from_policy(policy)
        ca = IssuingCa.from_certificate(material.issuing_ca)
        issuers = IssuerIndex([ca])
        status = StoreStatusSource(engine)
        responses = StoreResponses(engine)
        crl_store = StoreCrls(engine)
        signer = ResponseSigner(
            certificate=material.ocsp_responder, key=hsm.get_key(material.ocsp_responder_key_label)
        )
        ca_key_label = material.issuing_ca_key_label
        presigner = PreSigner(
            issuers=issuers,
            status=status,
            store=responses,
            signer=signer,
            timing=timing,
            clock=clock,
        )
        publisher = CrlPublisher(
            issuers=issuers,
            status=status,
            store=crl_store,
            key_for=lambda _ca: hsm.get_key(ca_key_label),
            timing=timing,
            clock=clock,
        )
        responder = Responder(
            issuers=issuers,
            status=status,
            presigner=presigner,
            store=responses,
            signer=signer,
            timing=timing,
            clock=clock,
            cache_seconds=cache_seconds,
            max_on_demand=max_on_demand,
            max_certids=max_certids,
            sign_rate=sign_rate,
            sign_burst=sign_burst,
        )
        return cls(
            issuers=issuers,
            status=status,
            responses=responses,
            crl_store=crl_store,
            presigner=presigner,
            crls=publisher,
            responder=responder,
            timing=timing,
        )

    # -- hooks of the issuance cycle (issuer.issuance.CertificateHooks) -------------

    def before_store(self, issuer: str, serial: str) -> Callable[[sa.Connection, Any], None]:
        """Pre-sign the first response of a certificate about to be stored (ARCHITECTURE §5
        step 4) and return its INSERT for step 4's transaction.

        Why here and not after the commit: the response then commits with the
        certificate and its audit event (no commit of its own, ~1 ms, and no
        write outside the issuance writer queue) and needs no status read: a
        certificate not yet stored can only be ``good`` -- a revocation cannot
        precede the commit of what it revokes, and its response, signed after
        it, has a later ``produced_at``, which the store keeps
        (:func:`issuer.store.repo.save_ocsp_response`). A plain INSERT: no row
        can exist yet (the foreign key needs the certificate, which is new).
        ``produced_at`` is the moment before signing, so it precedes the commit.
        If this raises (HSM), the cycle stores the certificate without a response
        and the refresher signs it (missing responses are due).
        """
        response = self.presigner.sign(issuer, int(serial, 16), status=CertStatus.good())
        params = {
            "issuer": issuer,
            "serial": serial,
            "der": response.der,
            "this_update": response.this_update,
            "next_update": response.next_update,
            "produced_at": response.produced_at,
        }

        def insert(conn: sa.Connection, _cert: Any) -> None:
            _INSERT_RESPONSE.execute(conn, params)

        return insert

    def on_issued(self, cert: IssuedLike) -> None:
        """Nothing after the commit: :meth:`before_store` committed the first response with
        the certificate (or failed, and the refresher signs it). Callers without a cycle use
        :meth:`presign_issued`."""
        return None

    def on_revoked(self, cert: IssuedLike) -> None:
        """Re-sign the response as revoked and publish a new CRL (RFC 5280 §5: full CRL)."""
        self.publish_revoked(cert.issuer, cert.serial)

    def presign_issued(self, issuer_id: str, serial: str) -> None:
        """Sign and store the response of a certificate stored outside the issuance cycle
        (issuer SPKI SHA-256 hex, serial hex): its status is read from the store, as the
        refresher does; the cycle itself uses :meth:`before_store`."""
        self.presigner.presign(issuer_id, int(serial, 16))

    def publish_revoked(self, issuer_id: str, serial: str) -> None:
        """:meth:`on_revoked` in plain types: new response, new CRL."""
        self.presigner.presign(issuer_id, int(serial, 16))
        self.crls.publish(issuer_id)

    # -- operator actions ----------------------------------------------------------

    def revoke(
        self, engine: sa.Engine, issuer_id: str, serial: str, *, at: datetime, reason: str
    ) -> bool:
        """Revoke in the store (once; first time and reason stay), then re-sign and re-publish."""
        with write_transaction(engine) as conn:
            changed = repo.revoke_certificate(
                conn, issuer=issuer_id, serial=serial, at=at, reason=reason
            )
        self.publish_revoked(issuer_id, serial)
        return changed

    def count_due(self) -> int:
        """Responses due now (for a progress bar's total)."""
        now = self.presigner.now()
        horizon = now + (self.timing.validity - self.timing.refresh_after)
        return self.responses.count_due(now=now, next_update_before=horizon)

    def refresh(
        self,
        *,
        batch: int = 1000,
        progress: Callable[[int, int], None] | None = None,
    ) -> RefreshReport:
        """Re-sign every due response (in batches until none is left), then due CRLs.

        *progress* gets ``(done, total)`` over the whole run, total being
        :meth:`count_due` at the start (raised if more turn up).
        """
        signed = kept = failed = 0
        total = self.count_due() if progress is not None else 0
        finished = 0

        def step(done: int, _batch_total: int) -> None:
            nonlocal total
            if progress is not None:
                total = max(total, finished + done)
                progress(finished + done, total)

        while True:
            report = self.presigner.refresh_due(limit=batch, progress=step)
            finished += report.signed + report.kept_newer + report.failed
            signed += report.signed
            kept += report.kept_newer
            failed += report.failed
            if report.signed == 0:
                break  # nothing left, or only rows another node keeps newer: stop
        self.crls.publish_due()
        return RefreshReport(signed=signed, kept_newer=kept, failed=failed)


class BackgroundRefresher:
    """One worker thread: ``refresh()`` every ``interval`` seconds (bounded: one signer at a time).

    Each node may run one; their work overlaps harmlessly (the store keeps the
    newest response, CRL numbers are taken once), so no leader election.
    """

    def __init__(self, service: OcspService, *, interval: float = 60.0) -> None:
        self._service = service
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ocsp-refresh", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float | None = 10.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                report = self._service.refresh()
                if report.signed or report.failed:
                    _LOG.info("OCSP refresh: %d signed, %d failed", report.signed, report.failed)
            except Exception:
                _LOG.exception("OCSP refresh pass failed; retrying in %.0f s", self._interval)
            self._stop.wait(self._interval)


# -- from a configuration file ------------------------------------------------------


def active_ocsp_policy(
    engine: sa.Engine, material: CaMaterial, *, fallback: Callable[[], Policy] = default_policy
) -> OcspPolicy:
    """``[ocsp]`` of the active policy version, verified, else of *fallback*'s document.

    The row is read through :func:`issuer.policy_store.read_active`, the verifier every
    reader of the policy uses (issue 16 item 9): its audit-key signature is checked with
    the ceremony's public key, so a row edited in the database is refused (ZID-1508) and
    no response is ever signed with its timings. Until a version is recorded (first
    issuance), *fallback* applies: the configured document, which issuance records.
    """
    active = read_active(engine, material.audit_public_key)
    return (fallback() if active is None else active.policy).ocsp


def configured_policy(config: Config) -> Policy:
    """``[policy] file`` of *config*, else the packaged development policy: the document
    issuance records as version 1 (``issuer.issuance.runtime``)."""
    return load_policy(config.policy.file) if config.policy.file else default_policy()


@dataclass(frozen=True, kw_only=True)
class OcspRuntime:
    """What ``zorgid ocsp serve|refresh`` needs, built from the engine's config file."""

    config: Config
    engine: sa.Engine
    hsm: Hsm
    material: CaMaterial
    service: OcspService

    @classmethod
    def open(
        cls, config: Config, *, open_hsm: Callable[[], Hsm], clock: Clock = utc_now
    ) -> OcspRuntime:
        """Open the store, read the verified policy, then log in to the HSM (*open_hsm*,
        ``issuer.wiring.hsm_opener``): a policy row that does not verify (ZID-1508)
        stops the start before any key is touched."""
        engine = create_engine_for(config.database.url)
        try:
            check_schema(engine)
            material = load_ca_material(config.data_dir)
            policy = active_ocsp_policy(
                engine, material, fallback=lambda: configured_policy(config)
            )
        except BaseException:
            engine.dispose()
            raise
        hsm = open_hsm()
        check_keys(material, hsm)  # a responder key that is not its certificate's: refuse
        service = OcspService.build(
            engine=engine,
            material=material,
            hsm=hsm,
            policy=policy,
            clock=clock,
            cache_seconds=config.ocsp.cache_seconds,
            max_on_demand=config.ocsp.max_on_demand,
            max_certids=config.ocsp.max_certids,
            sign_rate=config.ocsp.sign_rate,
            sign_burst=config.ocsp.sign_burst,
        )
        return cls(config=config, engine=engine, hsm=hsm, material=material, service=service)

    def routes(self) -> HttpRoutes:
        ocsp = self.config.ocsp
        return HttpRoutes(
            ocsp_prefix=ocsp.path_prefix,
            crl_paths={ocsp.crl_path: spki_sha256(self.material.issuing_ca)},
            ca_certificates={
                ocsp.ca_certificate_path: self.material.issuing_ca.public_bytes(Encoding.DER)
            },
        )

    def app(self) -> web.Application:
        return build_app(
            self.service.responder,
            routes=self.routes(),
            crls=CrlCache(self.service.crl_store.latest, ttl=self.config.ocsp.cache_seconds),
        )

    def close(self) -> None:
        self.engine.dispose()
        self.hsm.close()


def serve_http(
    config: Config,
    *,
    open_hsm: Callable[[], Hsm],
    ready: Callable[[str, int], None] | None = None,
    stop: threading.Event | None = None,
    refresher: bool = True,
) -> None:
    """Run one responder process until *stop* is set (or forever): HTTP plus, if
    *refresher*, the background refresh worker. Publishes a first CRL if none exists."""
    runtime = OcspRuntime.open(config, open_hsm=open_hsm)
    if refresher:
        try:
            runtime.service.crls.publish_due()  # the CRL URL answers from the first request
        except Exception:
            _LOG.exception("could not publish a CRL at start; the refresher retries")
    worker: BackgroundRefresher | None = None
    interval = config.ocsp.refresh_interval_seconds
    if refresher and interval > 0:
        worker = BackgroundRefresher(runtime.service, interval=interval)
        worker.start()
    host, port = parse_listen(config.ocsp.listen)
    stop = stop or threading.Event()

    async def main() -> None:
        runner = web.AppRunner(runtime.app(), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, host, port, reuse_port=config.ocsp.processes > 1)
        await site.start()
        bound = port
        server = getattr(site, "_server", None)
        if server is not None and server.sockets:
            bound = int(server.sockets[0].getsockname()[1])
        if ready is not None:
            ready(host, bound)
        try:
            while not stop.is_set():
                await asyncio.sleep(0.2)
        finally:
            await runner.cleanup()

    try:
        asyncio.run(main())
    finally:
        if worker is not None:
            worker.stop()
        runtime.close()
