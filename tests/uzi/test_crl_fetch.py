"""Issue 16 item 2: what the engine fetches, when, and within which bounds.

* a forged card (a trusted CA's name and key identifier, the attacker's
  signature) names its CRL distribution point in vain: nothing is fetched,
  not during the request and not later in the background;
* a download has one overall deadline, a size cap, and follows no redirect
  off the distribution point's host;
* the background refresher keeps the trust set's CRLs (and those learnt from
  verified cards) fresh; a request only reads the cache;
* in hard mode a refusal never carries the download's error text.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from issuer.uzi import errors
from issuer.uzi.card import issuing_ca_card_type
from issuer.uzi.crl import CrlCache, CrlRefresher, CrlUnavailable, FetchLimits, fetch_crl
from issuer.uzi.errors import UziError
from issuer.uzi.trust import load_trust_set
from issuer.uzi.validate import ChainValidator, RevocationMode
from testkit.crl_server import crl_server
from testkit.forgery import forge_card
from tests.uzi.conftest import NOW, Clock, MakeVerifier, World, prove


def _attacker_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


# -- a forged card names a URL: nothing is fetched -------------------------------------------


def test_forged_card_under_the_real_production_ca_fetches_nothing(uzi: World) -> None:
    """The real UZI-register Zorgverlener CA G3 (2019) of the shipped ``prod`` trust set."""
    prod = load_trust_set("prod")
    real_ca = max(
        (c for c in prod.intermediates if issuing_ca_card_type(c.subject) == "Z"),
        key=lambda c: c.not_valid_before_utc,
    )
    cache = CrlCache()
    refresher = CrlRefresher(cache, clock=lambda: NOW)
    refresher.start()
    try:
        with crl_server() as attacker:
            forged = forge_card(
                uzi.app.card.auth,
                trusted_ca=real_ca,
                key=_attacker_key(),
                crl_url=attacker.base_url + "metadata/secret",
            )
            for mode in (RevocationMode.HARD, RevocationMode.SOFT):
                with pytest.raises(UziError) as info:
                    ChainValidator(crls=cache).validate(
                        forged,
                        anchors=prod.anchors,
                        intermediates=prod.intermediates,
                        at=datetime(2026, 6, 1, tzinfo=UTC),
                        revocation=mode,
                        key_usage=frozenset({"digital_signature"}),
                    )
                assert info.value.code == errors.INVALID_CHAIN
            refresher.refresh_now(timeout=30)
            assert attacker.requests == []
            assert not any(u.startswith(attacker.base_url) for u in cache.wanted())
    finally:
        refresher.stop()


def test_forged_card_next_to_a_genuine_path_names_only_the_genuine_urls(uzi: World) -> None:
    """A forged intermediate sent with a genuine card: only the verified path's DPs are asked."""
    key = _attacker_key()
    with crl_server() as attacker:
        fake_ca = forge_card(
            uzi.world.cas["Z"].cert,
            trusted_ca=uzi.world.level2.cert,
            key=key,
            crl_url=attacker.base_url + "fake-ca",
            serial_number=0x5EC12E7,
        )
        trust = load_trust_set(str(uzi.trust_dir))
        cache = CrlCache()
        ChainValidator(crls=cache).validate(
            uzi.app.card.auth,
            anchors=trust.anchors,
            intermediates=[fake_ca, *trust.intermediates],
            at=NOW,
            revocation=RevocationMode.SOFT,
            key_usage=frozenset({"digital_signature"}),
        )
        assert set(cache.wanted()) == {  # card, issuing CA, level-2 CA of the genuine path
            uzi.world.base_url + "/issuing-z.crl",
            uzi.world.base_url + "/level2.crl",
            uzi.world.base_url + "/root.crl",
        }
        assert attacker.requests == []


# -- the bounds of one download ----------------------------------------------------------------


def test_a_trickling_server_is_cut_off_at_the_overall_deadline() -> None:
    with crl_server(trickle_seconds=0.2) as tarpit:
        started = time.monotonic()
        with pytest.raises(CrlUnavailable, match="within 1 s"):
            asyncio.run(fetch_crl(tarpit.base_url + "slow.crl", FetchLimits(deadline_seconds=1)))
        took = time.monotonic() - started
    assert took < 5, f"the fetch took {took:.1f} s for a 1 s deadline"


def test_a_crl_above_the_size_cap_is_refused(uzi: World) -> None:
    with crl_server() as server:
        server.files["big.crl"] = b"0" * 5000
        server.files["ok.crl"] = b"0" * 500
        limits = FetchLimits(max_bytes=1000)
        with pytest.raises(CrlUnavailable, match="larger than 1000 bytes"):
            asyncio.run(fetch_crl(server.base_url + "big.crl", limits))
        assert asyncio.run(fetch_crl(server.base_url + "ok.crl", limits)) == b"0" * 500


def test_redirects_are_followed_on_the_same_host_only() -> None:
    with crl_server() as server, crl_server() as elsewhere:
        server.files["new.crl"] = b"the crl"
        server.redirects["old.crl"] = "/new.crl"
        server.redirects["away.crl"] = elsewhere.base_url + "internal"
        assert asyncio.run(fetch_crl(server.base_url + "old.crl")) == b"the crl"
        with pytest.raises(CrlUnavailable, match="another host"):
            asyncio.run(fetch_crl(server.base_url + "away.crl"))
        assert elsewhere.requests == []
        server.redirects["loop.crl"] = "/loop.crl"
        with pytest.raises(CrlUnavailable, match="redirects"):
            asyncio.run(fetch_crl(server.base_url + "loop.crl"))


@pytest.mark.parametrize("url", ["https://127.0.0.1/x.crl", "file:///etc/passwd", "ldap://x/y"])
def test_only_http_urls_are_fetched(url: str) -> None:
    with pytest.raises(CrlUnavailable, match="only http://"):
        asyncio.run(fetch_crl(url))


# -- the refresher keeps the cache; requests read it -------------------------------------------


def test_the_refresher_renews_a_crl_before_next_update_and_requests_see_it(
    uzi: World, make_verifier: MakeVerifier, clock: Clock
) -> None:
    """A card revoked at the register is refused after the refresher's renewal, with no fetch
    by the request itself."""
    verifier = make_verifier()
    card = uzi.world.issue_card("N")
    key = card.auth_key
    assert isinstance(key, rsa.RSAPrivateKey)

    def sign(message: bytes) -> bytes:
        return key.sign(message, padding.PKCS1v15(), hashes.SHA256())

    prove(verifier, card.chain_der(), sign)
    uzi.world.revoke(card.auth)
    uzi.server.publish(uzi.world)
    try:
        prove(verifier, card.chain_der(), sign)  # the cached CRL is still in force
        verifier.refresher.stop()  # so that only a request could fetch in this step
        hits = uzi.server.hits
        clock.advance(timedelta(hours=22, minutes=30))  # within an hour of nextUpdate
        prove(verifier, card.chain_der(), sign)  # requests read the cache: still accepted...
        assert uzi.server.hits == hits  # ...and fetch nothing
        verifier.refresher.start()
        assert verifier.refresher.refresh_now(timeout=30)
        assert uzi.server.hits > hits
        with pytest.raises(UziError) as info:
            prove(verifier, card.chain_der(), sign)
        assert info.value.code == errors.REVOKED
    finally:
        uzi.world.cas["N"].revoked.pop(card.auth.serial_number)
        uzi.server.publish(uzi.world)


@pytest.mark.parametrize("mode", [RevocationMode.HARD, RevocationMode.SOFT])
def test_a_verified_cards_crl_url_is_learnt_and_fetched_in_the_background(
    uzi: World, make_verifier: MakeVerifier, mode: RevocationMode, tmp_path: Path
) -> None:
    """Without ``crl_urls`` in the trust set, the issuing CA's CRL is learnt from the first card
    whose path verified: hard mode asks to retry later, soft mode proceeds; then it is cached."""
    trust_dir = uzi.world.write_trust_set(tmp_path / "trust", declare_crls=False)
    verifier = make_verifier(mode, trust_dir=trust_dir)
    card_url = uzi.world.base_url + "/issuing-z.crl"
    assert card_url not in verifier.validator.crls.wanted()
    if mode is RevocationMode.HARD:
        with pytest.raises(UziError) as info:
            prove(verifier, uzi.app.chain(), uzi.app.sign)
        assert info.value.code == errors.REVOCATION_PENDING
    else:
        prove(verifier, uzi.app.chain(), uzi.app.sign)
    assert card_url in verifier.validator.crls.wanted()
    assert verifier.refresher.refresh_now(timeout=30)
    assert verifier.validator.crls.entry(card_url) is not None
    hits = uzi.server.hits
    prove(verifier, uzi.app.chain(), uzi.app.sign)
    assert uzi.server.hits == hits


# -- hard mode: the caller never sees why a download failed ------------------------------------


def test_hard_mode_refusal_does_not_echo_the_download_error(
    uzi: World, make_verifier: MakeVerifier
) -> None:
    uzi.server.down = True  # the register answers 503 Service Unavailable
    try:
        verifier = make_verifier(RevocationMode.HARD)
        with pytest.raises(UziError) as info:
            prove(verifier, uzi.app.chain(), uzi.app.sign)
    finally:
        uzi.server.down = False
    failure = verifier.validator.crls.failure(uzi.world.base_url + "/issuing-z.crl")
    assert failure is not None and "503" in failure.reason  # logged, kept server-side
    assert info.value.code == errors.REVOCATION_UNAVAILABLE
    said = f"{info.value} {info.value.detail}"
    port = uzi.server.base_url.rsplit(":", 1)[1].strip("/")
    for leak in ("503", "Service Unavailable", "HTTP", port, "127.0.0.1", "http://"):
        assert leak not in said, f"{leak!r} in {said!r}"
    assert "hard" in said


def test_a_server_holding_a_download_keeps_only_its_own_slot(uzi: World) -> None:
    """Bounded concurrency: a tarpit URL holds one fetch slot; another URL is fetched meanwhile."""
    with crl_server(trickle_seconds=2.0) as tarpit:
        cache = CrlCache()
        refresher = CrlRefresher(
            cache, clock=lambda: NOW, limits=FetchLimits(deadline_seconds=3, max_concurrent=2)
        )
        refresher.start()
        try:
            cache.want([tarpit.base_url + "slow.crl"])
            assert tarpit.wait_for(lambda: len(tarpit.requests) == 1, 30)
            started = time.monotonic()
            cache.want([uzi.world.base_url + "/issuing-z.crl"])
            assert refresher.refresh_now(timeout=30)
            assert cache.entry(uzi.world.base_url + "/issuing-z.crl") is not None
            assert cache.failure(tarpit.base_url + "slow.crl") is not None
            assert time.monotonic() - started < 10
        finally:
            refresher.stop()


@pytest.mark.parametrize("mode", [RevocationMode.SOFT, RevocationMode.OFF])
def test_soft_and_off_modes_fetch_nothing_until_a_card_verifies(
    uzi: World, make_verifier: MakeVerifier, mode: RevocationMode
) -> None:
    """Only hard mode keeps the trust set's CRLs fresh from the start: a server on the
    packaged development policy (the register's acceptance set, soft) reaches out to nobody."""
    before = uzi.server.hits
    verifier = make_verifier(mode)
    assert verifier.trust.crl_urls  # the set names CRLs: they are simply not wanted yet
    assert verifier.validator.crls.wanted() == ()
    assert uzi.server.hits == before
