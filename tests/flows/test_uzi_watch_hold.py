"""The UZI-pas watch's holds and its UZI-register CAs (issue 18 item 2).

On a running engine (SQLite and PostgreSQL), professionals register with
cards of the test UZI-register. With ``when_unavailable = "suspend"`` a
register CRL server down for longer than the limit puts their mobile IDs on
hold (OCSP revoked/certificateHold, on the engine's CRL); the CRLs back
without the card release them, back with the card revoke them for good. An
issuing CA of the register revoked on its parent's CRL revokes the mobile
IDs of its cards, and no other. The world is session-wide: every change to
it is undone.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
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

from hsm import HsmUnavailable
from issuer.cli import main
from issuer.issuance.certificates import revoke
from issuer.issuance.records import Actor
from issuer.ocsp_service import OcspService
from issuer.store.schema import audit_events, certificates, crls, ocsp_responses
from issuer.uzi.trust import load_trust_set
from issuer.uzi_watch import REASON, UziWatch, WatchSettings
from testkit.desktop_app import DesktopApp
from tests.flows.conftest import Engine

HOLD = "certificateHold"
LIMIT = timedelta(hours=1)


def _watch(eng: Engine, *, suspend: bool = True) -> UziWatch:
    return UziWatch(
        engine=eng.db,
        trust=lambda: load_trust_set(str(eng.cards.trust_dir)),
        issuance=eng.runtime.get,
        settings=WatchSettings(unavailable_limit=LIMIT, suspend=suspend),
        clock=eng.clock,
    )


def _serial(der: bytes) -> str:
    return format(x509.load_der_x509_certificate(der).serial_number, "x")


def _row(eng: Engine, der: bytes) -> Any:
    with eng.db.connect() as conn:
        return conn.execute(
            sa.select(certificates).where(certificates.c.serial == _serial(der))
        ).one()


def _status(eng: Engine, der: bytes) -> tuple[str, str | None]:
    row = _row(eng, der)
    return row.status, row.revocation_reason


def _ocsp(eng: Engine, der: bytes) -> ocsp.OCSPSingleResponse:
    """The engine's pre-signed OCSP answer for the certificate (what a relying party gets)."""
    with eng.db.connect() as conn:
        answer = conn.execute(
            sa.select(ocsp_responses.c.der).where(ocsp_responses.c.serial == _serial(der))
        ).scalar_one()
    serial = x509.load_der_x509_certificate(der).serial_number
    return next(
        a for a in ocsp.load_der_ocsp_response(bytes(answer)).responses if a.serial_number == serial
    )


def _on_engine_crl(eng: Engine, der: bytes) -> x509.RevokedCertificate | None:
    """The entry of the certificate on the engine's newest CRL, or None (none published yet)."""
    with eng.db.connect() as conn:
        latest = conn.execute(sa.select(crls.c.der).order_by(crls.c.number.desc())).first()
    if latest is None:
        return None
    published = x509.load_der_x509_crl(bytes(latest.der))
    return published.get_revoked_certificate_by_serial_number(int(_serial(der), 16))


def _crl_count(eng: Engine) -> int:
    with eng.db.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(crls)).scalar_one())


def _reason(entry: x509.RevokedCertificate) -> x509.ReasonFlags | None:
    try:
        return entry.extensions.get_extension_for_class(x509.CRLReason).value.reason
    except x509.ExtensionNotFound:
        return None


def _assert_held(eng: Engine, der: bytes) -> None:
    assert _status(eng, der) == ("revoked", HOLD)
    answer = _ocsp(eng, der)
    assert answer.certificate_status == ocsp.OCSPCertStatus.REVOKED
    assert answer.revocation_reason == x509.ReasonFlags.certificate_hold
    entry = _on_engine_crl(eng, der)
    assert entry is not None and _reason(entry) == x509.ReasonFlags.certificate_hold


def _assert_good(eng: Engine, der: bytes) -> None:
    assert _status(eng, der) == ("good", None)
    assert _row(eng, der).held_by is None
    assert _ocsp(eng, der).certificate_status == ocsp.OCSPCertStatus.GOOD
    assert _on_engine_crl(eng, der) is None


def _events(eng: Engine, action: str) -> list[dict[str, Any]]:
    with eng.db.connect() as conn:
        rows = conn.execute(
            sa.select(audit_events.c.details).where(audit_events.c.action == action)
        ).scalars()
        return [json.loads(d) for d in rows]


def _two_professionals(eng: Engine) -> tuple[DesktopApp, bytes, DesktopApp, bytes]:
    eng.register_org()
    card_a, card_b = eng.cards.app(), eng.cards.app()
    _, der_a, _ = eng.registered(card_a)
    _, der_b, _ = eng.registered(card_b)
    return card_a, der_a, card_b, der_b


def _republish(eng: Engine, files: dict[str, bytes] | None = None) -> None:
    """Every CRL of the world, current at the engine's clock (what the register serves)."""
    server, world, now = eng.cards.server, eng.cards.world, eng.clock()
    assert server is not None
    for ca in world.all_cas():
        server.files[ca.crl_path] = world.crl(
            ca, this_update=now - timedelta(minutes=1), next_update=now + timedelta(days=1)
        )
    server.files.update(files or {})


@contextmanager
def _world_restored(eng: Engine) -> Iterator[None]:
    """Undo this test's revocations in the session-wide world and serve its CRLs again."""
    world = eng.cards.world
    before = {id(ca): dict(ca.revoked) for ca in world.all_cas()}
    try:
        yield
    finally:
        for ca in world.all_cas():
            ca.revoked = before[id(ca)]
        assert eng.cards.server is not None
        eng.cards.server.down = False
        eng.cards.server.publish(world)


def _outage(eng: Engine, watch: UziWatch) -> Any:
    """The register's CRL server down for two days (the limit is an hour): one pass."""
    assert eng.cards.server is not None
    eng.cards.server.down = True
    try:
        eng.clock.advance(timedelta(days=2))
        return watch.run_once(force=True)
    finally:
        eng.cards.server.down = False


def test_suspend_holds_then_releases_when_the_crl_is_back_without_the_card(
    eng: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    card_a, der_a, _card_b, der_b = _two_professionals(eng)
    watch = _watch(eng)
    with _world_restored(eng):
        assert not watch.run_once(force=True).failed
        published = _crl_count(eng)
        report = _outage(eng, watch)
        assert report.unavailable
        assert sorted(h["serial"] for h in report.held) == sorted([_serial(der_a), _serial(der_b)])
        assert _crl_count(eng) == published + 1  # one CRL for both holds
        _assert_held(eng, der_a)
        _assert_held(eng, der_b)
        assert _row(eng, der_a).held_by == "uzi-watch"
        (held_a,) = [e for e in _events(eng, "certificate.hold") if e["serial"] == _serial(der_a)]
        assert held_a["card_serial"] == format(card_a.card.auth.serial_number, "x")
        assert held_a["reason"] == HOLD and held_a["reason_code"] == 6
        assert any(c["url"].endswith("issuing-z.crl") for c in held_a["crls_unavailable"])
        # A further pass during the outage changes nothing more.
        eng.clock.advance(timedelta(minutes=1))
        assert _outage(eng, watch).held == []

        capsys.readouterr()
        config = str(eng.config.source)
        # status reads the real clock, not the test's: its exit code is not asserted here.
        assert main(["uzi", "watch", "status", "--config", config]) in (0, 1)
        status = json.loads(capsys.readouterr().out)
        assert status["when_unavailable"] == "report"  # the config file's default
        assert status["held"] == 2

        eng.clock.advance(timedelta(minutes=1))  # a response replaces one produced earlier only
        _republish(eng)
        back = watch.run_once(force=True)
        assert not back.failed and back.revoked == []
        assert sorted(r["serial"] for r in back.released) == sorted(
            [_serial(der_a), _serial(der_b)]
        )
        _assert_good(eng, der_a)
        _assert_good(eng, der_b)
        (released_a,) = [
            e for e in _events(eng, "certificate.release") if e["serial"] == _serial(der_a)
        ]
        assert released_a["card_serial"] == format(card_a.card.auth.serial_number, "x")
        assert released_a["reason"] == HOLD
        assert any(c["crl_number"] == 1 for c in released_a["crls_current"])
        assert main(["uzi", "watch", "status", "--config", config]) in (0, 1)
        assert json.loads(capsys.readouterr().out)["held"] == 0


def test_a_release_whose_re_signing_fails_never_serves_the_hold(
    eng: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The release drops the stored revoked(certificateHold) response with the status
    change, so a failed re-signing (the HSM away: injected here) leaves no stale answer;
    the refresher signs the missing response first."""
    _card_a, der_a, _card_b, _der_b = _two_professionals(eng)
    watch = _watch(eng)
    with _world_restored(eng):
        assert not watch.run_once(force=True).failed
        assert _outage(eng, watch).unavailable
        _assert_held(eng, der_a)
        hooks = eng.runtime.get().cycle.hooks
        assert isinstance(hooks, OcspService)

        def hsm_away(*_args: object) -> None:
            raise HsmUnavailable("injected: the HSM is away")

        eng.clock.advance(timedelta(minutes=1))
        _republish(eng)
        with monkeypatch.context() as patched:
            patched.setattr(hooks.presigner, "presign", hsm_away)
            back = watch.run_once(force=True)
        assert _serial(der_a) in [r["serial"] for r in back.released]
        assert _status(eng, der_a) == ("good", None)
        with eng.db.connect() as conn:
            stored = conn.execute(
                sa.select(ocsp_responses.c.der).where(ocsp_responses.c.serial == _serial(der_a))
            ).first()
        assert stored is None  # nothing left that says revoked
        assert hooks.refresh().signed >= 1
        _assert_good(eng, der_a)


def test_a_card_found_revoked_while_on_hold_is_revoked_for_good(eng: Engine) -> None:
    card_a, der_a, _card_b, der_b = _two_professionals(eng)
    watch = _watch(eng)
    with _world_restored(eng):
        assert not watch.run_once(force=True).failed
        _outage(eng, watch)
        _assert_held(eng, der_a)
        eng.clock.advance(timedelta(minutes=1))
        found_at = eng.clock()
        eng.cards.world.revoke(card_a.card.auth, at=found_at - timedelta(days=1))
        _republish(eng)
        back = watch.run_once(force=True)
        assert [r["serial"] for r in back.revoked] == [_serial(der_a)]
        assert back.revoked[0]["was_on_hold"] is True
        assert [r["serial"] for r in back.released] == [_serial(der_b)]
        row = _row(eng, der_a)
        assert (row.status, row.revocation_reason, row.held_by) == ("revoked", REASON, None)
        assert row.revoked_at == found_at
        answer = _ocsp(eng, der_a)
        assert answer.certificate_status == ocsp.OCSPCertStatus.REVOKED
        assert answer.revocation_reason == x509.ReasonFlags.privilege_withdrawn
        entry = _on_engine_crl(eng, der_a)
        assert entry is not None and _reason(entry) == x509.ReasonFlags.privilege_withdrawn
        _assert_good(eng, der_b)
        # Revoked for good: a later pass releases nothing.
        eng.clock.advance(timedelta(minutes=1))
        assert watch.run_once(force=True).released == []
        assert _status(eng, der_a) == ("revoked", REASON)


def test_revocations_and_holds_of_others_are_never_released(eng: Engine) -> None:
    """An operator's revocation is not held nor made good; a hold the watch did not place stays."""
    _card_a, der_a, _card_b, der_b = _two_professionals(eng)
    card_c = eng.cards.app()
    _, der_c, _ = eng.registered(card_c)
    issuance = eng.runtime.get()
    eng.clock.advance(timedelta(seconds=1))  # a response replaces one produced earlier only
    revoke(
        eng.db,
        issuance.audit,
        certificate_id=_row(eng, der_a).id,
        reason="keyCompromise",
        actor=Actor(role="operator", identity="operator-1"),
        hooks=issuance.cycle.hooks,
        clock=eng.clock,
    )
    with eng.db.begin() as conn:  # a hold someone else placed (no held_by)
        conn.execute(
            certificates.update()
            .where(certificates.c.serial == _serial(der_c))
            .values(status="revoked", revoked_at=eng.clock(), revocation_reason=HOLD)
        )
    watch = _watch(eng)
    with _world_restored(eng):
        assert not watch.run_once(force=True).failed
        report = _outage(eng, watch)
        assert [h["serial"] for h in report.held] == [_serial(der_b)]
        eng.clock.advance(timedelta(minutes=1))
        _republish(eng)
        back = watch.run_once(force=True)
        assert [r["serial"] for r in back.released] == [_serial(der_b)]
    assert _status(eng, der_a) == ("revoked", "keyCompromise")
    answer = _ocsp(eng, der_a)
    assert answer.certificate_status == ocsp.OCSPCertStatus.REVOKED
    assert answer.revocation_reason == x509.ReasonFlags.key_compromise
    assert _status(eng, der_c) == ("revoked", HOLD)
    assert _row(eng, der_c).held_by is None
    _assert_good(eng, der_b)


def test_report_mode_leaves_mobile_ids_good_and_releases_earlier_holds(eng: Engine) -> None:
    _card_a, der_a, _card_b, _der_b = _two_professionals(eng)
    with _world_restored(eng):
        report_watch = _watch(eng, suspend=False)
        assert not report_watch.run_once(force=True).failed
        report = _outage(eng, report_watch)
        assert report.unavailable and report.held == []
        _assert_good(eng, der_a)
        # Holds placed in "suspend" mode are still released after a switch to "report".
        eng.clock.advance(timedelta(minutes=1))
        _outage(eng, _watch(eng))
        _assert_held(eng, der_a)
        eng.clock.advance(timedelta(minutes=1))
        _republish(eng)
        assert _serial(der_a) in [r["serial"] for r in report_watch.run_once(force=True).released]
        _assert_good(eng, der_a)


def test_a_crl_failing_its_signature_neither_releases_nor_holds(eng: Engine) -> None:
    card_a, der_a, _card_b, der_b = _two_professionals(eng)
    world = eng.cards.world
    ca = world.cas["Z"]
    forger = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def forged(*, listing: int | None) -> bytes:
        now = eng.clock()
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(ca.name)
            .last_update(now - timedelta(minutes=1))
            .next_update(now + timedelta(days=1))
            .add_extension(x509.CRLNumber(99), critical=False)
        )
        if listing is not None:
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder()
                .serial_number(listing)
                .revocation_date(now - timedelta(minutes=1))
                .build()
            )
        return builder.sign(forger, hashes.SHA256()).public_bytes(Encoding.DER)

    watch = _watch(eng)
    with _world_restored(eng):
        assert not watch.run_once(force=True).failed
        # A forged CRL while the real one is current: it fails, nothing is held.
        eng.clock.advance(timedelta(minutes=5))
        _republish(eng, {ca.crl_path: forged(listing=card_a.card.auth.serial_number)})
        early = watch.run_once(force=True)
        assert any("does not verify" in why for why in early.failed.values())
        assert early.held == [] and early.revoked == []
        _assert_good(eng, der_a)
        # On hold; the other CRLs come back, the card's own only forged (not listing it):
        # no release.
        _outage(eng, watch)
        _assert_held(eng, der_a)
        eng.clock.advance(timedelta(minutes=1))
        _republish(eng, {ca.crl_path: forged(listing=None)})
        forged_back = watch.run_once(force=True)
        assert forged_back.released == [] and forged_back.revoked == []
        _assert_held(eng, der_a)
        _assert_held(eng, der_b)
        # Forged, listing the card: no revocation either -- it stays on hold.
        eng.clock.advance(timedelta(minutes=1))
        _republish(eng, {ca.crl_path: forged(listing=card_a.card.auth.serial_number)})
        assert watch.run_once(force=True).revoked == []
        assert _status(eng, der_a) == ("revoked", HOLD)


def test_an_issuing_ca_revoked_on_its_parents_crl_revokes_its_cards_mobile_ids(
    eng: Engine, tmp_path: Path
) -> None:
    card_a, der_a, card_b, der_b = _two_professionals(eng)
    card_n = eng.cards.app(card_type="N")
    _, der_n, _ = eng.registered(card_n)
    world = eng.cards.world
    z_ca = world.cas["Z"]
    assert card_a.card.auth.issuer == card_b.card.auth.issuer == z_ca.name
    assert card_n.card.auth.issuer != z_ca.name
    watch = _watch(eng, suspend=False)
    with _world_restored(eng):
        first = watch.run_once(force=True)
        assert not first.failed and first.revoked == []
        assert any(u.endswith("level2.crl") for u in first.fetched)  # the CAs' parent's CRL
        world.revoke(z_ca.cert)  # on the level-2 CA's CRL
        eng.clock.advance(timedelta(minutes=1))
        _republish(eng)
        report = watch.run_once(force=True)
    assert sorted(r["serial"] for r in report.revoked) == sorted([_serial(der_a), _serial(der_b)])
    for der in (der_a, der_b):
        assert _status(eng, der) == ("revoked", REASON)
        answer = _ocsp(eng, der)
        assert answer.certificate_status == ocsp.OCSPCertStatus.REVOKED
        assert answer.revocation_reason == x509.ReasonFlags.privilege_withdrawn
        assert _on_engine_crl(eng, der) is not None
    _assert_good(eng, der_n)
    events = [e for e in _events(eng, "certificate.revoke") if e["serial"] == _serial(der_a)]
    (event,) = events
    assert event["ca_serial"] == format(z_ca.cert.serial_number, "x")
    assert event["ca_subject"] == z_ca.name.rfc4514_string()
    assert event["crl_number"] == 1
    assert event["crl_url"].endswith("level2.crl")
    assert event["card_serial"] == format(card_a.card.auth.serial_number, "x")


def test_a_pin_reset_during_a_hold_is_not_undone_by_the_release(eng: Engine) -> None:
    """The reset revoked the member's good certificates; the held one is superseded, not good."""
    from issuer.api.zorgid.v1 import organization_pb2
    from tests.flows.conftest import URA

    eng.register_org()
    admin_card = eng.cards.app(card_type="N")  # its CRL stays up: the administrator can act
    admin_phone, admin_der, _ = eng.registered(admin_card)
    eng.validate(admin_card, ura=URA)
    eng.approve(URA, admin_card.card.uzi_number)
    member = eng.cards.app()
    _, der_m, _ = eng.registered(member)
    z_crl = eng.cards.world.cas["Z"].crl_path
    watch = _watch(eng)
    with _world_restored(eng):
        assert not watch.run_once(force=True).failed
        eng.clock.advance(timedelta(days=2))
        _republish(eng)
        assert eng.cards.server is not None
        del eng.cards.server.files[z_crl]  # only the member's card's CRL is missing
        report = watch.run_once(force=True)
        assert [h["serial"] for h in report.held] == [_serial(der_m)]
        _assert_held(eng, der_m)
        _assert_good(eng, admin_der)

        eng.clock.advance(timedelta(minutes=1))
        admin = str(eng.login(admin_phone, admin_der).session_handle)
        person_id = next(
            m.person_id
            for m in eng.portal.org.ListMembers(
                organization_pb2.ListMembersRequest(login_session_handle=admin)
            ).members
            if m.uzi_number == member.card.uzi_number
        )
        eng.portal.org.ResetMember(
            organization_pb2.ResetMemberRequest(login_session_handle=admin, person_id=person_id),
            timeout=30,
        )
        eng.clock.advance(timedelta(minutes=1))
        _republish(eng)
        back = watch.run_once(force=True)
    assert back.released == []
    (revoked,) = back.revoked
    assert revoked["serial"] == _serial(der_m) and revoked["reason"] == "superseded"
    assert "PIN reset" in str(revoked["instead_of_release"])
    assert _status(eng, der_m) == ("revoked", "superseded")
    answer = _ocsp(eng, der_m)
    assert answer.certificate_status == ocsp.OCSPCertStatus.REVOKED
    assert answer.revocation_reason == x509.ReasonFlags.superseded
