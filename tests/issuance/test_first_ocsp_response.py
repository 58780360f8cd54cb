"""The first OCSP response is signed between steps 3 and 4 and commits with the certificate.

The OCSP service is the cycle's hooks (as in ``zorgid serve``): ``before_store``
signs a ``good`` response and step 4 inserts it in the certificate's
transaction. These tests check what that must never change: the response
exists exactly when the certificate does, a failed pre-sign does not stop the
issuance (the refresher signs it), and a later revocation's response wins.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from cryptography import x509
from cryptography.x509 import ocsp

from hsm import HsmUnavailable
from issuer.issuance.records import IssuedCertificate
from issuer.ocsp_service import OcspService
from issuer.store.schema import certificates, ocsp_responses, serial_reservations
from issuer.store.transactions import write_transaction
from ocsp.model import StoredResponse
from testkit.phone import Phone
from tests.issuance.conftest import MOBILE, World


@pytest.fixture
def service(world: World) -> Iterator[OcspService]:
    built = OcspService.build(
        engine=world.engine,
        material=world.ca.material,
        hsm=world.ca.hsm,
        policy=world.policy.ocsp,
        signature_hash=world.policy.profile.signature_hash,
    )
    world.cycle.hooks = built
    yield built


def _response(world: World, serial: str) -> Any:
    with world.engine.connect() as conn:
        return conn.execute(
            sa.select(ocsp_responses).where(ocsp_responses.c.serial == serial)
        ).first()


def _status(der: bytes, serial: str) -> ocsp.OCSPCertStatus:
    response = ocsp.load_der_ocsp_response(der)
    statuses = {s.certificate_status for s in response.responses}
    assert {s.serial_number for s in response.responses} == {int(serial, 16)}
    assert len(statuses) == 1
    return statuses.pop()


def _issue(world: World, phone: Phone) -> IssuedCertificate:
    enrolment = world.enrol()
    return world.redeemer.redeem(enrolment.token, phone.csr(), actor=MOBILE).certificate


def test_first_response_is_good_signed_by_the_responder_and_stored_with_the_certificate(
    world: World, service: OcspService, new_phone: Callable[..., Phone]
) -> None:
    issued = _issue(world, new_phone())
    row = _response(world, issued.serial)
    assert row is not None and row.issuer == issued.issuer
    assert _status(bytes(row.der), issued.serial) == ocsp.OCSPCertStatus.GOOD
    response = ocsp.load_der_ocsp_response(bytes(row.der))
    assert response.certificates[0] == world.ca.material.ocsp_responder
    # Signed before the commit: produced no later than the certificate was stored.
    assert row.produced_at <= issued.issued_at
    assert row.next_update - row.this_update == service.timing.validity
    # The serving path answers it from the store, without signing.
    assert service.responses.get(issued.issuer, int(issued.serial, 16)) is not None


def test_the_crl_is_signed_with_the_certificates_hash_under_the_same_key(
    world: World, service: OcspService, new_phone: Callable[..., Phone]
) -> None:
    """Issue 18: one key, one signature algorithm. The CRL used SHA-384 (from the P-384
    CA key's size) while certificates used the policy's SHA-256 under the same key."""
    issued = _issue(world, new_phone())
    crl = x509.load_der_x509_crl(service.crls.publish(issued.issuer).der)
    cert = x509.load_der_x509_certificate(issued.der)
    assert world.policy.profile.signature_hash == "sha256"
    assert crl.signature_algorithm_oid == cert.signature_algorithm_oid
    assert crl.signature_algorithm_oid == x509.SignatureAlgorithmOID.ECDSA_WITH_SHA256
    assert crl.is_signature_valid(world.ca.material.issuing_ca.public_key())  # type: ignore[arg-type]


def test_a_later_revocation_replaces_the_first_response(
    world: World, service: OcspService, new_phone: Callable[..., Phone]
) -> None:
    issued = _issue(world, new_phone())
    service.revoke(
        world.engine,
        issued.issuer,
        issued.serial,
        at=datetime.now(UTC),
        reason="keyCompromise",
    )
    row = _response(world, issued.serial)
    assert _status(bytes(row.der), issued.serial) == ocsp.OCSPCertStatus.REVOKED


def test_a_revocation_in_the_second_of_the_issuance_answers_revoked_at_once(
    world: World, new_phone: Callable[..., Phone]
) -> None:
    """producedAt has whole seconds: with the clock standing still, the first response and
    the revocation's are produced in the same second, and the revoked one must be kept."""
    still = datetime.now(UTC).replace(microsecond=0)
    world.cycle.hooks = frozen = OcspService.build(
        engine=world.engine,
        material=world.ca.material,
        hsm=world.ca.hsm,
        policy=world.policy.ocsp,
        signature_hash=world.policy.profile.signature_hash,
        clock=lambda: still,
    )
    issued = _issue(world, new_phone())
    first = _response(world, issued.serial)
    assert first.produced_at.replace(tzinfo=UTC) == still
    frozen.revoke(world.engine, issued.issuer, issued.serial, at=still, reason="keyCompromise")
    row = _response(world, issued.serial)
    assert row.produced_at == first.produced_at  # the same second
    assert _status(bytes(row.der), issued.serial) == ocsp.OCSPCertStatus.REVOKED


def test_a_failed_presign_still_issues_and_the_refresher_signs_the_missing_response(
    world: World,
    service: OcspService,
    new_phone: Callable[..., Phone],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def down(*_a: Any, **_k: Any) -> Any:
        raise HsmUnavailable("responder key: token away")

    monkeypatch.setattr(service.presigner, "sign", down)
    issued = _issue(world, new_phone())
    with world.engine.connect() as conn:
        stored = conn.execute(
            sa.select(certificates.c.status).where(certificates.c.serial == issued.serial)
        ).scalar_one()
    assert stored == "good"
    assert _response(world, issued.serial) is None
    monkeypatch.undo()
    report = service.refresh()
    assert report.signed >= 1
    assert _status(bytes(_response(world, issued.serial).der), issued.serial) == (
        ocsp.OCSPCertStatus.GOOD
    )


def test_a_failing_response_write_fails_step_4_and_stores_nothing(
    world: World, service: OcspService, new_phone: Callable[..., Phone]
) -> None:
    """The write is part of step 4: no certificate without its response when it was signed."""
    real = service.before_store

    def broken(issuer: str, serial: str) -> Callable[[sa.Connection, Any], None]:
        insert = real(issuer, serial)

        def twice(conn: sa.Connection, cert: Any) -> None:
            insert(conn, cert)
            insert(conn, cert)  # primary key clash: the whole transaction rolls back

        return twice

    class Hooks:
        before_store = staticmethod(broken)
        on_issued = service.on_issued
        on_revoked = service.on_revoked

    world.cycle.hooks = Hooks()
    enrolment = world.enrol()
    with pytest.raises(sa.exc.IntegrityError):
        world.redeemer.redeem(enrolment.token, new_phone().csr(), actor=MOBILE)
    with world.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(certificates)).scalar() == 0
        assert conn.execute(sa.select(sa.func.count()).select_from(ocsp_responses)).scalar() == 0
        states = conn.execute(sa.select(serial_reservations.c.state)).scalars().all()
    assert states == ["failed"]


def test_ocsp_writes_queue_with_the_issuance_writers_instead_of_hitting_sqlite_busy(
    world: World, new_phone: Callable[..., Phone]
) -> None:
    """Concurrent response stores and issuance-path transactions never fail on each other.

    SQLite: every writer of a process takes the same lock, so with SQLite's busy wait
    off none sees "database is locked". PostgreSQL: writers wait on row locks, so the
    same load sees no deadlock, lock or unique-key error."""
    issued = _issue(world, new_phone())
    engine = world.db.engine()

    if world.db.backend == "sqlite":

        @sa.event.listens_for(engine, "connect")
        def _no_busy_wait(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.execute("PRAGMA busy_timeout = 0")

    service = OcspService.build(
        engine=engine,
        material=world.ca.material,
        hsm=world.ca.hsm,
        policy=world.policy.ocsp,
        signature_hash=world.policy.profile.signature_hash,
    )
    response = service.presigner.sign(issued.issuer, int(issued.serial, 16))
    errors: list[BaseException] = []

    def store(n: int) -> None:
        for i in range(15):
            at = response.produced_at + timedelta(microseconds=1 + n * 100 + i)
            later = StoredResponse(
                der=response.der,
                this_update=response.this_update,
                next_update=response.next_update,
                produced_at=at,
            )
            service.responses.put(issued.issuer, int(issued.serial, 16), later)

    def write(_n: int) -> None:
        for _ in range(15):
            with write_transaction(engine) as conn:
                conn.exec_driver_sql("UPDATE audit_head SET id = id")

    def guarded(fn: Callable[[int], None], n: int) -> None:
        try:
            fn(n)
        except BaseException as exc:  # collected: the assertion names it
            errors.append(exc)

    threads = [
        threading.Thread(target=guarded, args=(fn, n)) for n in range(4) for fn in (store, write)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    engine.dispose()
    assert errors == []
