"""The ZORG-ID smartcard flow (issue 19, portal manual §6) end to end over mTLS gRPC.

On a running engine (SQLite and PostgreSQL) whose policy admits RSA keys: a
registered professional logs in with their mobile ID, the portal starts a
card, the desktop app makes RSA-2048 keys on a blank card (its own SoftHSM
token) and signs a CSR per slot on it, the portal redeems the ticket and the
certificates are written to the card. Then retries, concurrency, expiry, the
list, revocation (store and OCSP) and replacement.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import pytest
import sqlalchemy as sa
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID

from issuer.api.zorgid.v1 import certificate_pb2, smartcard_pb2, smartcard_pb2_grpc
from issuer.flows import smartcard as smartcard_flow
from issuer.flows.smartcard import LEASE, TICKET_LIFETIME
from issuer.ocsp_service import OcspService
from issuer.profile import read_uzi_san
from issuer.store import smartcards as card_store
from issuer.store.schema import certificates, crls, ocsp_responses, smartcards
from ocsp.issuers import spki_sha256
from policies import DEFAULT_POLICY_PATH, load_policy
from testkit.smartcard import (
    AUTHENTICATION,
    ENCRYPTION,
    SIGNATURE,
    CardApp,
    CardSlot,
    SmartCard,
    write_openssl_engine_conf,
)
from tests.flows.conftest import OTHER_URA, Engine, EngineParts, rpc_code, running_engine
from tests.smartcard.tls import list_objects, pem, server_identity, tls_client, tls_server
from tests.softhsm import SOFTHSM_MODULE, SoftHsmDir

_SLOT = {
    AUTHENTICATION.label: smartcard_pb2.SMARTCARD_SLOT_AUTHENTICATION,
    SIGNATURE.label: smartcard_pb2.SMARTCARD_SLOT_NON_REPUDIATION,
    ENCRYPTION.label: smartcard_pb2.SMARTCARD_SLOT_ENCRYPTION,
}
_cards = itertools.count(1)


@pytest.fixture
def card_eng(engine_parts: EngineParts, tmp_path: Path) -> Iterator[Engine]:
    """An engine whose policy admits RSA keys: a card's keys are RSA-2048."""
    text = DEFAULT_POLICY_PATH.read_text(encoding="utf-8")
    text = text.replace('allowed = ["ec-p256", "ec-p384"]', 'allowed = ["ec-p256", "rsa"]')
    text = text.replace('version = "dev-1"', 'version = "dev-1-card"')
    text = text.replace("enabled = false", "enabled = true")  # [smartcard]: cards issue
    policy = tmp_path / "card-policy.toml"
    policy.write_text(text, encoding="utf-8")
    assert load_policy(policy).keys.allowed == ("ec-p256", "rsa")
    assert load_policy(policy).smartcard.enabled
    with running_engine(engine_parts, tmp_path, policy_file=policy) as made:
        yield made


@pytest.fixture
def blank_card(softhsm_dir: SoftHsmDir) -> Iterator[Any]:
    """Blank cards on demand, each a freshly initialised token, inserted in the desktop app."""

    def insert() -> CardApp:
        return CardApp.insert(SmartCard.blank(softhsm_dir, f"zorgid-flowcard-{next(_cards)}"))

    yield insert


def _stub(eng: Engine, name: str = "portal") -> Any:
    return smartcard_pb2_grpc.SmartcardServiceStub(eng.channel(name))  # type: ignore[no-untyped-call]


def _logged_in(eng: Engine, *, card_not_after: datetime | None = None) -> str:
    """A registered professional (UZI-pas valid until *card_not_after*) logged in by phone."""
    eng.register_org()
    phone, der, _ = eng.registered(eng.cards.app(not_after=card_not_after))
    status = eng.login(phone, der)
    assert status.session_handle
    return str(status.session_handle)


def _csrs(app: CardApp, slots: tuple[CardSlot, ...]) -> list[Any]:
    """The desktop app: a key made on the card per slot, and its CSR signed there."""
    for slot in slots:
        app.generate_key(slot)
    return [smartcard_pb2.SlotCsr(slot=_SLOT[s.label], csr=app.csr(s)) for s in slots]


def _redeem(stub: Any, ticket: str, csrs: list[Any]) -> Any:
    return stub.RedeemSmartcard(
        smartcard_pb2.RedeemSmartcardRequest(ticket=ticket, csrs=csrs), timeout=60
    )


def _by_slot(reply: Any) -> dict[int, Any]:
    return {c.slot: c.certificate for c in reply.certificates}


def _status(eng: Engine, certificate_id: str) -> tuple[str, str | None]:
    with eng.db.connect() as conn:
        row = conn.execute(
            sa.select(certificates.c.status, certificates.c.revocation_reason).where(
                certificates.c.id == certificate_id
            )
        ).one()
    return row.status, row.revocation_reason


def _ocsp(eng: Engine, der: bytes) -> ocsp.OCSPCertStatus:
    serial = x509.load_der_x509_certificate(der).serial_number
    with eng.db.connect() as conn:
        answer = conn.execute(
            sa.select(ocsp_responses.c.der).where(ocsp_responses.c.serial == format(serial, "x"))
        ).scalar_one()
    answers = ocsp.load_der_ocsp_response(bytes(answer)).responses
    return next(a.certificate_status for a in answers if a.serial_number == serial)


def test_card_issued_listed_replaced_and_revoked(card_eng: Engine, blank_card: Any) -> None:
    eng = card_eng
    handle = _logged_in(eng)
    stub = _stub(eng)

    started = stub.StartSmartcard(
        smartcard_pb2.StartSmartcardRequest(login_session_handle=handle), timeout=30
    )
    app = blank_card()
    csrs = _csrs(app, (AUTHENTICATION, SIGNATURE))
    issued = _redeem(stub, started.ticket, csrs)
    assert not issued.replayed
    certs = _by_slot(issued)
    assert set(certs) == {_SLOT[AUTHENTICATION.label], _SLOT[SIGNATURE.label]}
    assert len(issued.chain) >= 1
    for slot in (AUTHENTICATION, SIGNATURE):
        written = app.write_certificate(slot, certs[_SLOT[slot.label]].der)
        assert written.public_key() == app.key(slot).public_key()
    assert set(app.certificates()) == {AUTHENTICATION.key_id, SIGNATURE.key_id}
    # Each slot got its certificate of the card profile (issuer.profile.usage), as N card.
    auth = x509.load_der_x509_certificate(certs[_SLOT[AUTHENTICATION.label]].der)
    sign = x509.load_der_x509_certificate(certs[_SLOT[SIGNATURE.label]].der)
    assert auth.extensions.get_extension_for_class(x509.KeyUsage).value.digital_signature
    assert (
        ExtendedKeyUsageOID.CLIENT_AUTH
        in auth.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    )
    sign_usage = sign.extensions.get_extension_for_class(x509.KeyUsage).value
    assert sign_usage.content_commitment and not sign_usage.digital_signature
    assert read_uzi_san(auth).card_type.value == "N"
    with eng.db.connect() as conn:
        usages = set(
            conn.execute(
                sa.select(certificates.c.usage).where(
                    certificates.c.serial.in_([c.serial for c in certs.values()])
                )
            ).scalars()
        )
    assert usages == {"card-authentication", "card-signature"}

    # A retry (the first answer lost) returns the same set; other CSRs are refused.
    again = _redeem(stub, started.ticket, csrs)
    assert again.replayed and again.card_id == issued.card_id
    assert {s: c.der for s, c in _by_slot(again).items()} == {s: c.der for s, c in certs.items()}
    with pytest.raises(grpc.RpcError) as err:
        _redeem(stub, started.ticket, csrs[:1])
    assert rpc_code(err.value) == (grpc.StatusCode.FAILED_PRECONDITION, "ZID-2003")

    listed = stub.ListSmartcards(
        smartcard_pb2.ListSmartcardsRequest(login_session_handle=handle), timeout=30
    ).cards
    assert [(c.id, c.state) for c in listed] == [
        (issued.card_id, smartcard_pb2.SMARTCARD_STATE_ACTIVE)
    ]
    assert {c.certificate.serial for c in listed[0].certificates} == {
        c.serial for c in certs.values()
    }

    # Replace: a new card; on redeeming its ticket the old set is revoked superseded.
    ticket = stub.ReplaceSmartcard(
        smartcard_pb2.ReplaceSmartcardRequest(login_session_handle=handle, card_id=issued.card_id),
        timeout=30,
    ).ticket
    new_app = blank_card()
    eng.clock.advance(timedelta(seconds=5))  # a response is replaced by a later one only
    replaced = _redeem(stub, ticket, _csrs(new_app, (AUTHENTICATION,)))
    for old in certs.values():
        assert _status(eng, old.id) == ("revoked", "superseded")
        assert _ocsp(eng, old.der) == ocsp.OCSPCertStatus.REVOKED
    new_auth = _by_slot(replaced)[_SLOT[AUTHENTICATION.label]]
    assert _status(eng, new_auth.id) == ("good", None)
    states = {
        c.id: c.state
        for c in stub.ListSmartcards(
            smartcard_pb2.ListSmartcardsRequest(login_session_handle=handle), timeout=30
        ).cards
    }
    assert states == {
        issued.card_id: smartcard_pb2.SMARTCARD_STATE_SUPERSEDED,
        replaced.card_id: smartcard_pb2.SMARTCARD_STATE_ACTIVE,
    }

    # The holder revokes the new card: each of its certificates revoked, OCSP says so.
    eng.clock.advance(timedelta(seconds=5))
    revoked = stub.RevokeSmartcard(
        smartcard_pb2.RevokeSmartcardRequest(
            login_session_handle=handle,
            card_id=replaced.card_id,
            reason=certificate_pb2.REVOCATION_REASON_KEY_COMPROMISE,
        ),
        timeout=30,
    ).card
    assert revoked.state == smartcard_pb2.SMARTCARD_STATE_REVOKED
    assert _status(eng, new_auth.id) == ("revoked", "keyCompromise")
    assert _ocsp(eng, new_auth.der) == ocsp.OCSPCertStatus.REVOKED
    with pytest.raises(grpc.RpcError) as err:
        stub.RevokeSmartcard(
            smartcard_pb2.RevokeSmartcardRequest(
                login_session_handle=handle, card_id=replaced.card_id
            ),
            timeout=30,
        )
    assert rpc_code(err.value) == (grpc.StatusCode.FAILED_PRECONDITION, "ZID-2007")


def test_concurrent_redemptions_one_set_and_tickets_expire(
    card_eng: Engine, blank_card: Any
) -> None:
    eng = card_eng
    card_end = (eng.clock() + timedelta(days=40)).replace(microsecond=0)
    handle = _logged_in(eng, card_not_after=card_end)
    stub = _stub(eng)
    start = smartcard_pb2.StartSmartcardRequest(login_session_handle=handle)

    ticket = stub.StartSmartcard(start, timeout=30).ticket
    csrs = _csrs(blank_card(), (AUTHENTICATION, ENCRYPTION))
    # No authentication CSR: refused, and the ticket is not used up by it.
    with pytest.raises(grpc.RpcError) as err:
        _redeem(stub, ticket, csrs[1:])
    assert rpc_code(err.value) == (grpc.StatusCode.INVALID_ARGUMENT, "ZID-2005")
    stubs = [_stub(eng) for _ in range(4)]
    with ThreadPoolExecutor(len(stubs)) as pool:
        replies = list(pool.map(lambda s: _redeem(s, ticket, csrs), stubs))
    assert len({r.card_id for r in replies}) == 1
    assert len({c.certificate.serial for r in replies for c in r.certificates}) == 2
    assert sorted(r.replayed for r in replies) == [False, True, True, True]
    # The UZI-pas the mobile ID was registered with caps the card's certificates.
    for c in replies[0].certificates:
        assert x509.load_der_x509_certificate(c.certificate.der).not_valid_after_utc == card_end
    with eng.db.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(smartcards)).scalar() == 1

    # A ticket lapses unredeemed after its lifetime.
    late = stub.StartSmartcard(start, timeout=30).ticket
    eng.clock.advance(TICKET_LIFETIME)
    with pytest.raises(grpc.RpcError) as err:
        _redeem(stub, late, _csrs(blank_card(), (AUTHENTICATION,)))
    assert rpc_code(err.value) == (grpc.StatusCode.FAILED_PRECONDITION, "ZID-2002")

    # The operator revokes any card without a session; a stranger's ticket is unknown.
    revoked = (
        _stub(eng, "operator")
        .RevokeSmartcard(
            smartcard_pb2.RevokeSmartcardRequest(card_id=replies[0].card_id), timeout=30
        )
        .card
    )
    assert revoked.state == smartcard_pb2.SMARTCARD_STATE_REVOKED
    assert {c.certificate.status for c in revoked.certificates} == {
        certificate_pb2.CERTIFICATE_STATUS_REVOKED
    }
    with pytest.raises(grpc.RpcError) as err:
        _redeem(stub, "no-such-ticket", csrs)
    assert rpc_code(err.value) == (grpc.StatusCode.NOT_FOUND, "ZID-2001")


def test_a_dead_redeemers_claim_is_taken_over_and_the_administrator_revokes(
    card_eng: Engine, blank_card: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The retry within the lease waits for the dead winner 1 s, not the engine's 10 s
    # (WAIT_SECONDS, read at each call): the same ZID-2004, 9 s sooner.
    monkeypatch.setattr(smartcard_flow, "WAIT_SECONDS", 1.0)
    eng = card_eng
    handle = _logged_in(eng)
    stub = _stub(eng)
    ticket = stub.StartSmartcard(
        smartcard_pb2.StartSmartcardRequest(login_session_handle=handle), timeout=30
    ).ticket
    csrs = _csrs(blank_card(), (AUTHENTICATION,))
    digest = {c.slot: c.csr for c in csrs}
    # A redeemer claimed the ticket with these CSRs and died before issuing anything.
    claimed_at = eng.clock()
    with eng.db.begin() as conn:
        row = card_store.find_ticket(conn, hashlib.sha256(ticket.encode()).hexdigest())
        assert row is not None
        set_digest = hashlib.sha256(
            "".join(
                f"{name}={hashlib.sha256(digest[_SLOT[name]]).hexdigest()}\n"
                for name in (AUTHENTICATION.label,)
            ).encode()
        ).hexdigest()
        assert card_store.claim_ticket(
            conn, ticket_id=row.id, csrs_sha256=set_digest, card_id="dead-card", now=claimed_at
        )
        card_store.insert_card(conn, card_id="dead-card", ticket=row, at=claimed_at)
    # Within the lease a retry waits for the (dead) winner, then is told to retry.
    with pytest.raises(grpc.RpcError) as err:
        _redeem(stub, ticket, csrs)
    assert rpc_code(err.value) == (grpc.StatusCode.UNAVAILABLE, "ZID-2004")
    eng.clock.advance(LEASE)
    taken = _redeem(stub, ticket, csrs)
    assert taken.card_id == "dead-card" and not taken.replayed
    assert [c.slot for c in taken.certificates] == [_SLOT[AUTHENTICATION.label]]
    assert _redeem(stub, ticket, csrs).replayed

    # Someone of another organisation may not revoke it; the member's administrator may.
    eng.register_org(OTHER_URA, "Ziekenhuis Oost")
    phone, der, _ = eng.registered(eng.cards.app(ura=OTHER_URA))
    stranger = str(eng.login(phone, der).session_handle)
    revoke = smartcard_pb2.RevokeSmartcardRequest(card_id=taken.card_id)
    with pytest.raises(grpc.RpcError) as err:
        stub.RevokeSmartcard(
            smartcard_pb2.RevokeSmartcardRequest(
                login_session_handle=stranger, card_id=taken.card_id
            ),
            timeout=30,
        )
    assert rpc_code(err.value) == (grpc.StatusCode.NOT_FOUND, "ZID-2006")
    admin, _app = eng.administrator()
    revoke.login_session_handle = admin
    card = stub.RevokeSmartcard(revoke, timeout=30).card
    assert card.state == smartcard_pb2.SMARTCARD_STATE_REVOKED
    assert {c.certificate.status for c in card.certificates} == {
        certificate_pb2.CERTIFICATE_STATUS_REVOKED
    }


def _latest_crl(eng: Engine, issuer: str, path: Path) -> Path:
    """The engine's newest CRL of *issuer* (what its CRL distribution point serves), PEM."""
    with eng.db.connect() as conn:
        der = conn.execute(
            sa.select(crls.c.der)
            .where(crls.c.issuer == issuer)
            .order_by(crls.c.number.desc())
            .limit(1)
        ).scalar_one()
    path.write_bytes(x509.load_der_x509_crl(bytes(der)).public_bytes(Encoding.PEM))
    return path


def test_the_flows_card_authenticates_over_tls_with_its_key_until_the_card_is_revoked(
    card_eng: Engine, blank_card: Any, tmp_path: Path
) -> None:
    """Issue 19 end to end: a card made through SmartcardService over mTLS gRPC, its key
    never leaving the card (pkcs11-tool), logs in to an openssl TLS server with the card
    key through openssl's pkcs11 engine, and is refused once RevokeSmartcard revoked it."""
    eng = card_eng
    handle = _logged_in(eng)
    stub = _stub(eng)
    started = stub.StartSmartcard(
        smartcard_pb2.StartSmartcardRequest(login_session_handle=handle), timeout=30
    )
    app = blank_card()
    issued = _redeem(stub, started.ticket, _csrs(app, (AUTHENTICATION,)))
    cert = app.write_certificate(AUTHENTICATION, _by_slot(issued)[_SLOT[AUTHENTICATION.label]].der)

    listed = list_objects(app.card)
    (private,) = [o for o in listed if o.kind == "Private Key Object"]
    assert {"sensitive", "never extractable"} <= private.access
    assert "extractable" not in private.access

    chain = [x509.load_der_x509_certificate(bytes(d)) for d in issued.chain]
    assert chain[0].subject == cert.issuer  # issuing CA first
    issuer = spki_sha256(chain[0])
    conf = write_openssl_engine_conf(tmp_path / "openssl.cnf", SOFTHSM_MODULE)
    card_pem = tmp_path / "card.pem"
    card_pem.write_bytes(pem(cert))
    trust = tmp_path / "zorgid-ca.pem"
    trust.write_bytes(pem(*chain))
    server_cert, server_key = server_identity(tmp_path)

    def handshake(crl: Path) -> tuple[Any, Any]:
        with tls_server(
            cert=server_cert, key=server_key, ca_file=trust, crl_file=crl, at=eng.clock()
        ) as (port, served):
            run = tls_client(
                port=port,
                card=app.card,
                slot=AUTHENTICATION,
                cert=card_pem,
                server_ca=server_cert,
                openssl_conf=conf,
            )
        (server,) = served
        return server, run

    hooks = eng.runtime.get().cycle.hooks
    assert isinstance(hooks, OcspService)
    hooks.crls.publish(issuer)  # the refresher's first CRL, as `zorgid serve` has by now
    server, client = handshake(_latest_crl(eng, issuer, tmp_path / "before.crl"))
    assert client.returncode == 0 and client.page.startswith(b"HTTP/1.0 200 ok"), (
        server.output,
        client.stderr,
    )
    assert "verify error" not in server.output

    eng.clock.advance(timedelta(seconds=5))
    stub.RevokeSmartcard(
        smartcard_pb2.RevokeSmartcardRequest(
            login_session_handle=handle,
            card_id=issued.card_id,
            reason=certificate_pb2.REVOCATION_REASON_KEY_COMPROMISE,
        ),
        timeout=30,
    )
    server, client = handshake(_latest_crl(eng, issuer, tmp_path / "after.crl"))
    assert "verify error:num=23:certificate revoked" in server.output, server.output
    assert client.page == b"" and client.returncode != 0
