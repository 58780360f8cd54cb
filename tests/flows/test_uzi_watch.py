"""The UZI-pas watch (issue 18 item 2): a mobile ID follows its card's revocation.

On a running engine (SQLite and PostgreSQL), two professionals register with
cards of the test UZI-register; its CRL server then lists one card, or serves
a CRL forged under the CA's name, or goes down. The watch runs as the server
and ``zorgid uzi watch --once`` run it (one pass, its clock the engine's).
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import ocsp

from issuer.cli import main
from issuer.store.schema import (
    audit_events,
    crls,
    uzi_watch_crls,
)
from issuer.uzi.trust import load_trust_set
from issuer.uzi_watch import REASON, UziWatch, WatchSettings
from testkit import uzi_world
from testkit.desktop_app import DesktopApp
from tests.flows.conftest import Engine
from tests.flows.stored import serial_of, stored_ocsp_status, stored_status


def _watch(eng: Engine, **settings: Any) -> UziWatch:
    return UziWatch(
        engine=eng.db,
        trust=lambda: load_trust_set(str(eng.cards.trust_dir)),
        issuance=eng.runtime.get,
        settings=WatchSettings(**settings),
        clock=eng.clock,
    )


def _card_ca(eng: Engine, app: DesktopApp) -> uzi_world.TestCa:
    return next(ca for ca in eng.cards.world.cas.values() if ca.name == app.card.auth.issuer)


def _publish(eng: Engine, path: str, der: bytes) -> None:
    assert eng.cards.server is not None
    eng.cards.server.files[path] = der


def _restore(eng: Engine) -> None:
    assert eng.cards.server is not None
    eng.cards.server.publish(eng.cards.world)


def _two_professionals(eng: Engine) -> tuple[DesktopApp, bytes, DesktopApp, bytes]:
    eng.register_org()
    card_a, card_b = eng.cards.app(), eng.cards.app()
    _, der_a, _ = eng.registered(card_a)
    _, der_b, _ = eng.registered(card_b)
    return card_a, der_a, card_b, der_b


def test_a_revoked_card_revokes_its_mobile_ids_and_no_other(eng: Engine) -> None:
    card_a, der_a, _card_b, der_b = _two_professionals(eng)
    watch = _watch(eng)
    first = watch.run_once(force=True)
    assert not first.failed and not first.revoked
    assert stored_status(eng, der_a) == ("good", None)

    eng.cards.world.revoke(card_a.card.auth)
    _restore(eng)
    eng.clock.advance(timedelta(seconds=1))  # a response replaces one produced earlier only
    try:
        report = watch.run_once(force=True)
    finally:
        _restore(eng)
    assert [r["serial"] for r in report.revoked] == [serial_of(der_a)]
    assert stored_status(eng, der_a) == ("revoked", REASON)
    assert stored_status(eng, der_b) == ("good", None)
    # OCSP says so at once: the runtime's hooks re-signed the response.
    assert stored_ocsp_status(eng, der_a) == ocsp.OCSPCertStatus.REVOKED
    assert stored_ocsp_status(eng, der_b) == ocsp.OCSPCertStatus.GOOD
    # ... and so does the engine's CRL: a new one was published listing it.
    with eng.db.connect() as conn:
        latest = conn.execute(sa.select(crls.c.der).order_by(crls.c.number.desc())).first()
    assert latest is not None
    published = x509.load_der_x509_crl(bytes(latest.der))
    assert published.get_revoked_certificate_by_serial_number(int(serial_of(der_a), 16)) is not None
    assert published.get_revoked_certificate_by_serial_number(int(serial_of(der_b), 16)) is None
    with eng.db.connect() as conn:
        events = conn.execute(
            sa.select(audit_events.c.details).where(
                audit_events.c.action == "certificate.revoke",
                audit_events.c.actor_identity == "uzi-watch",
            )
        ).scalars()
        (details,) = [d for d in map(json.loads, events) if d["serial"] == serial_of(der_a)]
    assert details["card_serial"] == format(card_a.card.auth.serial_number, "x")
    assert details["crl_number"] == 1
    assert details["reason"] == REASON
    # A card revoked stays revoked: the next pass finds nothing more to do.
    assert watch.run_once(force=True).revoked == []


def test_a_crl_that_fails_its_signature_changes_nothing(eng: Engine) -> None:
    card_a, der_a, _card_b, _der_b = _two_professionals(eng)
    ca = _card_ca(eng, card_a)
    forger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = eng.clock()
    forged = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca.name)
        .last_update(now - timedelta(minutes=5))
        .next_update(now + timedelta(days=1))
        .add_extension(x509.CRLNumber(99), critical=False)
        .add_revoked_certificate(
            x509.RevokedCertificateBuilder()
            .serial_number(card_a.card.auth.serial_number)
            .revocation_date(now - timedelta(minutes=5))
            .build()
        )
        .sign(forger, hashes.SHA256())
        .public_bytes(Encoding.DER)
    )
    _publish(eng, ca.crl_path, forged)
    try:
        report = _watch(eng).run_once(force=True)
    finally:
        _restore(eng)
    assert report.revoked == []
    assert any("does not verify" in why for why in report.failed.values())
    assert stored_status(eng, der_a) == ("good", None)
    with eng.db.connect() as conn:
        rows = conn.execute(sa.select(uzi_watch_crls)).all()
    forged_row = next(r for r in rows if r.url.endswith(ca.crl_path))
    assert forged_row.crl_number != 99
    assert "does not verify" in (forged_row.last_error or "")


def test_an_older_crl_is_not_applied_over_a_newer_one(eng: Engine) -> None:
    """A replayed CRL from before the last one applied is refused (no rollback)."""
    card_a, der_a, _card_b, _der_b = _two_professionals(eng)
    ca = _card_ca(eng, card_a)
    watch = _watch(eng)
    assert not watch.run_once(force=True).failed
    _publish(
        eng,
        ca.crl_path,
        eng.cards.world.crl(
            ca,
            this_update=eng.clock() - timedelta(days=2),
            next_update=eng.clock() + timedelta(hours=1),
        ),
    )
    try:
        report = watch.run_once(force=True)
    finally:
        _restore(eng)
    assert any("older than" in why for why in report.failed.values())
    assert stored_status(eng, der_a) == ("good", None)


def test_a_crl_unavailable_too_long_is_reported_and_mobile_ids_stay(eng: Engine) -> None:
    _card_a, der_a, _card_b, _der_b = _two_professionals(eng)
    watch = _watch(eng, unavailable_limit=timedelta(hours=1))
    assert not watch.run_once(force=True).failed
    assert eng.cards.server is not None
    eng.cards.server.down = True
    try:
        # Two days on, the last CRL's nextUpdate (a day) plus the limit (an hour) is past.
        eng.clock.advance(timedelta(days=2))
        report = watch.run_once(force=True)
    finally:
        eng.cards.server.down = False
    assert report.failed and report.unavailable
    assert stored_status(eng, der_a) == ("good", None)
    with eng.db.connect() as conn:
        reported = conn.execute(
            sa.select(audit_events.c.details).where(
                audit_events.c.action == "uzi.watch.crl_unavailable"
            )
        ).all()
    assert len(reported) >= 1


def test_cli_once_and_status(
    eng: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    card_a, der_a, _card_b, der_b = _two_professionals(eng)
    config = eng.config.source
    assert main(["uzi", "watch", "status", "--config", str(config)]) in (0, 1)
    eng.cards.world.revoke(card_a.card.auth)
    _restore(eng)
    capsys.readouterr()
    trust = str(eng.cards.trust_dir)
    code = main(["uzi", "watch", "--once", "--force", "--config", str(config), "--trust", trust])
    once = json.loads(capsys.readouterr().out)
    assert code == 0, once
    assert [r["serial"] for r in once["revoked"]] == [serial_of(der_a)]
    assert stored_status(eng, der_a) == ("revoked", REASON)
    assert stored_status(eng, der_b) == ("good", None)
    assert main(["uzi", "watch", "status", "--config", str(config)]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["revocations"] >= 1
    assert status["cards_watched"] >= 1
    assert status["last_fetch"] is not None and status["next_fetch"] is not None
    assert any(c["crl_number"] == 1 for c in status["crls"])


def test_a_reset_carries_the_card_so_its_new_mobile_id_follows_it(eng: Engine) -> None:
    """A PIN reset copies the original proof: the certificate it leads to is the card's too."""
    from issuer.api.zorgid.v1 import organization_pb2

    eng.register_org()
    admin, _ = eng.administrator()
    member = eng.cards.app()
    eng.registered(member)
    person_id = next(
        m.person_id
        for m in eng.portal.org.ListMembers(
            organization_pb2.ListMembersRequest(login_session_handle=admin)
        ).members
        if m.uzi_number == member.card.uzi_number
    )
    reset = eng.portal.org.ResetMember(
        organization_pb2.ResetMemberRequest(login_session_handle=admin, person_id=person_id),
        timeout=30,
    )
    der = bytes(eng.redeem(reset.qr.payload, eng.new_phone()).certificate.der)
    eng.cards.world.revoke(member.card.auth)
    _restore(eng)
    eng.clock.advance(timedelta(seconds=1))
    report = _watch(eng).run_once(force=True)
    assert serial_of(der) in [r["serial"] for r in report.revoked]
    assert stored_status(eng, der) == ("revoked", REASON)


def test_cards_not_signed_by_the_trust_set_name_no_url(eng: Engine, tmp_path: Path) -> None:
    """A trust set of look-alike CAs (same names, other keys): no card verifies, nothing is read."""
    card_a, der_a, _card_b, _der_b = _two_professionals(eng)
    assert eng.cards.server is not None
    twin = uzi_world.UziWorld(now=eng.clock(), base_url=eng.cards.server.base_url)
    twin_trust = twin.write_trust_set(tmp_path / "twin")
    eng.cards.world.revoke(card_a.card.auth)
    _restore(eng)
    eng.clock.advance(timedelta(seconds=1))
    watch = UziWatch(
        engine=eng.db,
        trust=lambda: load_trust_set(str(twin_trust)),
        issuance=eng.runtime.get,
        clock=eng.clock,
    )
    report = watch.run_once(force=True)
    assert report.cards >= 2
    assert report.fetched == [] and report.failed == {} and report.revoked == []
    assert stored_status(eng, der_a) == ("good", None)
