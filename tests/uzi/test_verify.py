"""UZI-pas proof of presence: every refusal with its stable code, and the happy path."""

from __future__ import annotations

import hashlib
import sqlite3
from datetime import timedelta

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.serialization import Encoding

from issuer.uzi import errors
from issuer.uzi.card import load_certificates
from issuer.uzi.checks import SignatureScheme
from issuer.uzi.errors import UziError
from issuer.uzi.validate import RevocationMode
from issuer.uzi_vocabulary import CardType
from tests.uzi.conftest import PORTAL, Clock, MakeVerifier, World, prove


def test_card_on_token_is_proved_and_session_opened(
    uzi: World, make_verifier: MakeVerifier, tmp_path: object
) -> None:
    from hsm import HsmRsaPrivateKey

    assert isinstance(uzi.app.key, HsmRsaPrivateKey)  # the card key lives on its own token
    verifier = make_verifier()
    challenge = verifier.create_challenge(portal=PORTAL)
    assert len(challenge.nonce) * 8 >= 256
    proof = verifier.verify_card(
        challenge.challenge_id,
        uzi.app.chain(),
        uzi.app.sign(challenge.to_be_signed),
        portal=PORTAL,
        purpose="registration",
    )
    assert proof.identity.uzi_number == uzi.app.card.uzi_number
    assert proof.identity.card_type is CardType.ZORGVERLENER
    assert proof.identity.subscriber_number == "90000382"
    assert proof.identity.role == "01.015"
    assert proof.identity.title == "arts"
    assert len(proof.chain) == 4 and "Root CA" in proof.chain[-1]
    assert verifier.session(proof.session_handle, portal=PORTAL, purpose="registration") == (
        proof.identity
    )
    assert proof.session_handle not in repr(proof)
    with pytest.raises(UziError) as info:
        verifier.session(proof.session_handle, portal=PORTAL, purpose="validation")
    assert info.value.code == errors.SESSION_UNKNOWN


def test_only_the_hash_of_the_session_handle_is_stored(
    uzi: World, make_verifier: MakeVerifier, uzi_engine: sa.Engine
) -> None:
    verifier = make_verifier()
    challenge = verifier.create_challenge(portal=PORTAL)
    proof = verifier.verify_card(
        challenge.challenge_id,
        uzi.app.chain(),
        uzi.app.sign(challenge.to_be_signed),
        portal=PORTAL,
        purpose="registration",
    )
    digest = hashlib.sha256(proof.session_handle.encode()).hexdigest()
    db = sqlite3.connect(str(uzi_engine.url.database))
    stored = db.execute(
        "SELECT count(*) FROM uzi_sessions WHERE handle_sha256 = ?", (digest,)
    ).fetchone()
    assert stored == (1,)
    dump = "\n".join(db.iterdump())
    assert proof.session_handle not in dump


def test_pss_signature_from_the_token_is_accepted(uzi: World, make_verifier: MakeVerifier) -> None:
    verifier = make_verifier()
    challenge = verifier.create_challenge(portal=PORTAL)
    proof = verifier.verify_card(
        challenge.challenge_id,
        uzi.app.chain(),
        uzi.app.sign(challenge.to_be_signed, pss=True),
        portal=PORTAL,
        purpose="registration",
        scheme=SignatureScheme.RSA_PSS_SHA256,
    )
    assert proof.identity.uzi_number == uzi.app.card.uzi_number


CHAIN_REFUSALS = {
    "signature-certificate": errors.SIGNATURE_CERTIFICATE,
    "encryption-certificate": errors.ENCRYPTION_CERTIFICATE,
    "card-type-M": errors.CARD_TYPE_REFUSED,
    "card-type-S": errors.CARD_TYPE_REFUSED,
    "expired": errors.EXPIRED,
    "not-yet-valid": errors.NOT_YET_VALID,
    "revoked": errors.REVOKED,
    "unknown-ca": errors.UNKNOWN_CA,
    "san-ca-disagree": errors.CARD_TYPE_CA_MISMATCH,
    "san-serialnumber-disagree": errors.SUBJECT_SAN_MISMATCH,
    "malformed-san": errors.BAD_UZI_NAME,
    "garbage": errors.BAD_ENCODING,
}


@pytest.mark.parametrize(("condition", "code"), sorted(CHAIN_REFUSALS.items()))
def test_broken_card_is_refused_with_its_code(
    uzi: World, make_verifier: MakeVerifier, condition: str, code: str
) -> None:
    verifier = make_verifier()
    data = uzi.broken[condition].read_bytes()
    if condition == "garbage":
        chain = [data]
    else:
        chain = [c.public_bytes(Encoding.DER) for c in load_certificates(data)]
    key = uzi.world.broken_keys.get(condition)

    def sign(message: bytes) -> bytes:
        assert key is not None
        return key.sign(message, padding.PKCS1v15(), hashes.SHA256())

    with pytest.raises(UziError) as info:
        prove(verifier, chain, sign if key is not None else (lambda m: b"\0" * 256))
    assert info.value.code == code, str(info.value)
    assert info.value.spec.cause_nl and info.value.spec.solution_en


def test_every_broken_condition_has_a_test() -> None:
    assert set(CHAIN_REFUSALS) == {
        "signature-certificate",
        "encryption-certificate",
        "card-type-M",
        "card-type-S",
        "expired",
        "not-yet-valid",
        "revoked",
        "unknown-ca",
        "san-ca-disagree",
        "san-serialnumber-disagree",
        "malformed-san",
        "garbage",
    }


def test_wrong_signature_is_refused(uzi: World, make_verifier: MakeVerifier) -> None:
    verifier = make_verifier()
    challenge = verifier.create_challenge(portal=PORTAL)
    other = verifier.create_challenge(portal=PORTAL)
    with pytest.raises(UziError) as info:
        verifier.verify_card(
            challenge.challenge_id,
            uzi.app.chain(),
            uzi.app.sign(other.to_be_signed),
            portal=PORTAL,
            purpose="registration",
        )
    assert info.value.code == errors.BAD_SIGNATURE


def test_replayed_challenge_is_refused(uzi: World, make_verifier: MakeVerifier) -> None:
    verifier = make_verifier()
    challenge = verifier.create_challenge(portal=PORTAL)
    signature = uzi.app.sign(challenge.to_be_signed)
    verifier.verify_card(
        challenge.challenge_id, uzi.app.chain(), signature, portal=PORTAL, purpose="registration"
    )
    with pytest.raises(UziError) as info:
        verifier.verify_card(
            challenge.challenge_id,
            uzi.app.chain(),
            signature,
            portal=PORTAL,
            purpose="registration",
        )
    assert info.value.code == errors.CHALLENGE_USED


def test_challenge_is_single_use_across_store_connections(
    uzi: World, make_verifier: MakeVerifier
) -> None:
    """Two engine processes share one database: the second one to consume loses."""
    first = make_verifier()
    second = make_verifier()  # same SQLite file, its own connection and caches
    challenge = first.create_challenge(portal=PORTAL)
    signature = uzi.app.sign(challenge.to_be_signed)
    second.verify_card(
        challenge.challenge_id, uzi.app.chain(), signature, portal=PORTAL, purpose="registration"
    )
    with pytest.raises(UziError) as info:
        first.verify_card(
            challenge.challenge_id,
            uzi.app.chain(),
            signature,
            portal=PORTAL,
            purpose="registration",
        )
    assert info.value.code == errors.CHALLENGE_USED


def test_expired_challenge_is_refused(
    uzi: World, make_verifier: MakeVerifier, clock: Clock
) -> None:
    verifier = make_verifier(challenge_lifetime=timedelta(minutes=2))
    challenge = verifier.create_challenge(portal=PORTAL)
    clock.advance(timedelta(minutes=2, seconds=1))
    with pytest.raises(UziError) as info:
        verifier.verify_card(
            challenge.challenge_id,
            uzi.app.chain(),
            uzi.app.sign(challenge.to_be_signed),
            portal=PORTAL,
            purpose="registration",
        )
    assert info.value.code == errors.CHALLENGE_EXPIRED


def test_unknown_challenge_and_other_portal_are_refused(
    uzi: World, make_verifier: MakeVerifier
) -> None:
    verifier = make_verifier()
    with pytest.raises(UziError) as info:
        verifier.verify_card(
            "no-such-id", uzi.app.chain(), b"x" * 256, portal=PORTAL, purpose="registration"
        )
    assert info.value.code == errors.CHALLENGE_UNKNOWN
    challenge = verifier.create_challenge(portal=PORTAL)
    with pytest.raises(UziError) as info:
        verifier.verify_card(
            challenge.challenge_id,
            uzi.app.chain(),
            uzi.app.sign(challenge.to_be_signed),
            portal="other-portal",
            purpose="registration",
        )
    assert info.value.code == errors.CHALLENGE_UNKNOWN


def test_oversize_chain_is_refused(uzi: World, make_verifier: MakeVerifier) -> None:
    verifier = make_verifier()
    chain = uzi.app.chain()
    with pytest.raises(UziError) as info:
        prove(verifier, chain + chain[1:] * 3, uzi.app.sign)
    assert info.value.code == errors.OVERSIZE_CHAIN
    with pytest.raises(UziError) as info:
        prove(verifier, [chain[0] + b"\0" * 9000, *chain[1:]], uzi.app.sign)
    assert info.value.code == errors.OVERSIZE_CHAIN


def test_policy_can_narrow_card_types_and_roles(uzi: World, make_verifier: MakeVerifier) -> None:
    with pytest.raises(UziError) as info:
        prove(
            make_verifier(accepted_card_types=frozenset({CardType.MEDEWERKER_OP_NAAM})),
            uzi.app.chain(),
            uzi.app.sign,
        )
    assert info.value.code == errors.CARD_TYPE_REFUSED
    with pytest.raises(UziError) as info:
        prove(make_verifier(accepted_roles=frozenset({"17."})), uzi.app.chain(), uzi.app.sign)
    assert info.value.code == errors.ROLE_REFUSED
    prove(make_verifier(accepted_roles=frozenset({"01."})), uzi.app.chain(), uzi.app.sign)


def test_policy_cannot_widen_to_m_or_s_cards() -> None:
    from issuer.uzi.verify import UziPolicy

    with pytest.raises(ValueError, match="never prove a person"):
        UziPolicy(trust_set="acc", accepted_card_types=frozenset({CardType.SERVER}))


def test_crl_unreachable_hard_refuses_soft_accepts(uzi: World, make_verifier: MakeVerifier) -> None:
    uzi.server.down = True
    try:
        with pytest.raises(UziError) as info:
            prove(make_verifier(RevocationMode.HARD), uzi.app.chain(), uzi.app.sign)
        assert info.value.code == errors.REVOCATION_UNAVAILABLE
        assert "hard" in str(info.value)
        prove(make_verifier(RevocationMode.SOFT), uzi.app.chain(), uzi.app.sign)
    finally:
        uzi.server.down = False


def test_crl_unreachable_in_soft_mode_still_refuses_known_revocation(
    uzi: World, make_verifier: MakeVerifier, tmp_path: object
) -> None:
    """Soft mode proceeds without a CRL it cannot get, but uses one it has (from a file)."""
    from pathlib import Path

    verifier = make_verifier(RevocationMode.SOFT)
    ca = uzi.world.cas["Z"]
    crl_file = Path(str(tmp_path)) / "z.crl"
    crl_file.write_bytes(uzi.world.crl(ca))
    verifier.validator.crls.load_file(crl_file)
    chain = [
        c.public_bytes(Encoding.DER) for c in load_certificates(uzi.broken["revoked"].read_bytes())
    ]
    key = uzi.world.broken_keys["revoked"]
    uzi.server.down = True
    try:
        with pytest.raises(UziError) as info:
            prove(verifier, chain, lambda m: key.sign(m, padding.PKCS1v15(), hashes.SHA256()))
        assert info.value.code == errors.REVOKED
    finally:
        uzi.server.down = False


def test_requests_read_the_cache_and_the_refresher_fetches(
    uzi: World, make_verifier: MakeVerifier, clock: Clock
) -> None:
    """Issue 16: the CRLs are fetched once, at start, by the refresher; a request never fetches."""
    before = uzi.server.hits
    verifier = make_verifier()
    fetched = uzi.server.hits - before
    # root, level-2, four issuing CAs; the world's server is shared by the session, so a
    # stopped verifier of an earlier test may still add a hit of its own: at least six.
    assert fetched >= len(verifier.trust.crl_urls) == 6
    fetched = uzi.server.hits - before
    prove(verifier, uzi.app.chain(), uzi.app.sign)
    prove(verifier, uzi.app.chain(), uzi.app.sign)
    assert uzi.server.hits - before == fetched
    # The world's CRLs are current for a day. Past nextUpdate a request still fetches
    # nothing (the refresher is paused, so any download would be the request's): in hard
    # mode it asks to retry later.
    verifier.refresher.stop()
    clock.advance(timedelta(days=1))
    with pytest.raises(UziError) as info:
        prove(verifier, uzi.app.chain(), uzi.app.sign)
    assert info.value.code == errors.REVOCATION_PENDING
    assert uzi.server.hits - before == fetched
    verifier.refresher.start()
    verifier.refresher.refresh_now(timeout=30)
    assert uzi.server.hits - before > fetched
    # The register still serves yesterday's CRLs: not current, so unavailable.
    with pytest.raises(UziError) as info:
        prove(verifier, uzi.app.chain(), uzi.app.sign)
    assert info.value.code == errors.REVOCATION_UNAVAILABLE


def test_error_table_is_complete_and_bilingual() -> None:
    codes = [row[0] for row in errors.UZI_ERROR_TABLE]
    assert len(codes) == len(set(codes))
    for row in errors.UZI_ERROR_TABLE:
        assert row[0].startswith("ZID-11") and len(row) == 6 and all(row)
        assert row[1] in {
            "INVALID_ARGUMENT",
            "FAILED_PRECONDITION",
            "PERMISSION_DENIED",
            "UNAVAILABLE",
            "UNAUTHENTICATED",
            "DEADLINE_EXCEEDED",
            "NOT_FOUND",
        }


def test_async_variant_inside_an_event_loop(uzi: World, make_verifier: MakeVerifier) -> None:
    import asyncio

    verifier = make_verifier()

    async def flow() -> str:
        challenge = verifier.create_challenge(portal=PORTAL)
        proof = await verifier.averify_card(
            challenge.challenge_id,
            uzi.app.chain(),
            uzi.app.sign(challenge.to_be_signed),
            portal=PORTAL,
            purpose="validation",
        )
        return proof.identity.uzi_number

    assert asyncio.run(flow()) == uzi.app.card.uzi_number


def test_ecdsa_card_key_and_scheme_mismatch(uzi: World, make_verifier: MakeVerifier) -> None:
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    card = uzi.world.issue_card("N", auth_key=key)
    verifier = make_verifier()
    challenge = verifier.create_challenge(portal=PORTAL)
    signature = key.sign(challenge.to_be_signed, ec.ECDSA(hashes.SHA256()))
    with pytest.raises(UziError) as info:
        verifier.verify_card(
            challenge.challenge_id,
            card.chain_der(),
            signature,
            portal=PORTAL,
            purpose="registration",
        )
    assert info.value.code == errors.BAD_SIGNATURE and "does not fit" in str(info.value)
    challenge = verifier.create_challenge(portal=PORTAL)
    signature = key.sign(challenge.to_be_signed, ec.ECDSA(hashes.SHA256()))
    proof = verifier.verify_card(
        challenge.challenge_id,
        card.chain_der(),
        signature,
        portal=PORTAL,
        purpose="registration",
        scheme=SignatureScheme.ECDSA_SHA256,
    )
    assert proof.identity.card_type is CardType.MEDEWERKER_OP_NAAM


def test_failed_crl_download_is_retried_after_a_pause(
    uzi: World, make_verifier: MakeVerifier, clock: Clock
) -> None:
    uzi.server.down = True
    try:
        verifier = make_verifier(RevocationMode.HARD)  # its first download fails
        with pytest.raises(UziError):
            prove(verifier, uzi.app.chain(), uzi.app.sign)
        hits = uzi.server.hits
        with pytest.raises(UziError) as info:
            prove(verifier, uzi.app.chain(), uzi.app.sign)
        assert info.value.code == errors.REVOCATION_UNAVAILABLE
        verifier.refresher.refresh_now(timeout=30)
        assert uzi.server.hits == hits  # not tried again within 30 s, however often asked
    finally:
        uzi.server.down = False
    clock.advance(timedelta(seconds=31))
    verifier.refresher.refresh_now(timeout=30)
    prove(verifier, uzi.app.chain(), uzi.app.sign)


def test_sync_variant_works_inside_an_event_loop(uzi: World, make_verifier: MakeVerifier) -> None:
    """A sync call from async code (cache miss) must not fail on the running loop."""
    import asyncio

    verifier = make_verifier()

    async def flow() -> str:
        challenge = verifier.create_challenge(portal=PORTAL)
        proof = verifier.verify_card(
            challenge.challenge_id,
            uzi.app.chain(),
            uzi.app.sign(challenge.to_be_signed),
            portal=PORTAL,
            purpose="validation",
        )
        return proof.identity.uzi_number

    assert asyncio.run(flow()) == uzi.app.card.uzi_number


def test_every_uzi_code_is_in_the_engine_catalogue_with_the_same_status() -> None:
    from issuer.errors import CATALOGUE

    for code, status, cause_en, _, cause_nl, _ in errors.UZI_ERROR_TABLE:
        spec = CATALOGUE[code]
        assert spec.status.name == status
        assert (spec.cause_en, spec.cause_nl) == (cause_en, cause_nl)
        bridged = UziError(code, "got x; expected y").as_zorgid_error()
        assert bridged.code == code and bridged.detail == "got x; expected y"


def test_uzi_session_expires_with_its_lifetime(
    uzi: World, make_verifier: MakeVerifier, clock: Clock
) -> None:
    verifier = make_verifier(session_lifetime=timedelta(minutes=15))
    challenge = verifier.create_challenge(portal=PORTAL)
    proof = verifier.verify_card(
        challenge.challenge_id,
        uzi.app.chain(),
        uzi.app.sign(challenge.to_be_signed),
        portal=PORTAL,
        purpose="registration",
    )
    assert proof.session_expires_at == clock.now + timedelta(minutes=15)
    clock.advance(timedelta(minutes=14, seconds=59))
    verifier.session(proof.session_handle, portal=PORTAL, purpose="registration")
    clock.advance(timedelta(seconds=1))
    with pytest.raises(UziError) as info:
        verifier.session(proof.session_handle, portal=PORTAL, purpose="registration")
    assert info.value.code == errors.SESSION_UNKNOWN


def test_concurrent_verifications_on_one_verifier(uzi: World, make_verifier: MakeVerifier) -> None:
    """One verifier per process is shared by request threads (own event loop per thread)."""
    import threading

    verifier = make_verifier()
    jobs = []
    for _ in range(16):
        challenge = verifier.create_challenge(portal=PORTAL)
        jobs.append((challenge.challenge_id, uzi.app.sign(challenge.to_be_signed)))
    results: list[str] = []
    failures: list[BaseException] = []

    def work(batch: list[tuple[str, bytes]]) -> None:
        for challenge_id, signature in batch:
            try:
                proof = verifier.verify_card(
                    challenge_id, uzi.app.chain(), signature, portal=PORTAL, purpose="registration"
                )
                results.append(proof.identity.uzi_number)
            except BaseException as exc:
                failures.append(exc)

    threads = [threading.Thread(target=work, args=(jobs[i::4],)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    assert results == [uzi.app.card.uzi_number] * 16


def test_weak_card_key_is_refused(uzi: World, make_verifier: MakeVerifier) -> None:
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    card = uzi.world.issue_card("Z", auth_key=key)
    with pytest.raises(UziError) as info:
        prove(
            make_verifier(),
            card.chain_der(),
            lambda m: key.sign(m, padding.PKCS1v15(), hashes.SHA256()),
        )
    assert info.value.code == errors.WEAK_ALGORITHM and "RSA-1024" in str(info.value)
