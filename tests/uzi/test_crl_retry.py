"""Issue 22: the CRL refresher after the UZI-register was down, and its bound on the register.

A register back from an outage must serve the next proof within seconds (the issue's
5 s recovery), where a fixed 30 s wait after a failure kept hard-mode proofs refused
for up to half a minute; a register that stays down is tried less and less often
(1 s doubling to 30 s, jittered), except when a request asks for its CRL, which is at
most once a second a URL. The refresher also wakes by itself when a CRL comes due.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from issuer.uzi.crl import (
    RETRY_FIRST,
    RETRY_MAX,
    CrlCache,
    CrlRefresher,
    retry_delay,
)
from testkit.crl_server import CrlServer, crl_server
from tests.uzi.conftest import NOW, Clock, World


@pytest.fixture
def register(uzi: World) -> Iterator[CrlServer]:
    """A CRL server of the test's own with the test register's CRLs."""
    with crl_server() as server:
        server.publish(uzi.world)
        yield server


def _url(server: CrlServer) -> str:
    return server.base_url + "issuing-z.crl"


def _started(cache: CrlCache, clock: Clock) -> CrlRefresher:
    refresher = CrlRefresher(cache, clock=clock, draw=lambda: 0.999)
    refresher.start()
    return refresher


def test_a_register_back_after_an_outage_is_fetched_again_within_two_seconds(
    register: CrlServer, clock: Clock
) -> None:
    cache, url = CrlCache(), _url(register)
    refresher = _started(cache, clock)
    try:
        register.down = True  # 503 for every CRL
        cache.want([url])
        assert refresher.refresh_now(timeout=30)
        failure = cache.failure(url)
        assert failure is not None and cache.entry(url) is None
        register.down = False
        clock.advance(timedelta(seconds=2))
        assert refresher.refresh_now(timeout=30)
        assert cache.entry(url) is not None, "not tried again 2 s after the failure"
        assert cache.failure(url) is None
    finally:
        refresher.stop()


def test_a_register_that_stays_down_is_tried_less_often_until_a_request_asks(
    register: CrlServer, clock: Clock
) -> None:
    cache, url = CrlCache(), _url(register)
    refresher = _started(cache, clock)
    register.down = True
    try:
        cache.want([url])
        waits = []
        for _ in range(7):
            assert refresher.refresh_now(timeout=30)
            failure = cache.failure(url)
            assert failure is not None and failure.retry_at is not None
            waits.append(failure.retry_at - failure.at)
            hits = register.hits
            clock.advance(failure.retry_at - failure.at - timedelta(milliseconds=10))
            assert refresher.refresh_now(timeout=30)
            assert register.hits == hits, "tried again before its back-off"
            clock.advance(timedelta(milliseconds=10))
        assert [round(w.total_seconds()) for w in waits] == [1, 2, 4, 8, 16, 30, 30]
        # A request without a current CRL asks for it: tried again a second after the failure.
        assert refresher.refresh_now(timeout=30)
        hits = register.hits
        clock.advance(RETRY_FIRST)
        cache.want([url])
        assert refresher.refresh_now(timeout=30)
        assert register.hits == hits + 1
        # ...and only once a second however many requests ask.
        for _ in range(5):
            cache.want([url])
            assert refresher.refresh_now(timeout=30)
        assert register.hits == hits + 1
        # Back and fetched: the back-off starts over.
        register.down = False
        clock.advance(RETRY_FIRST)
        cache.want([url])
        assert refresher.refresh_now(timeout=30)
        assert cache.failure(url) is None and cache.entry(url) is not None
    finally:
        register.down = False
        refresher.stop()


def test_a_register_serving_a_stale_crl_is_backed_off_too(uzi: World, clock: Clock) -> None:
    """A CRL past its nextUpdate is a failed download: the back-off grows, it is not reset."""
    ca = uzi.world.cas["Z"]
    with crl_server() as server:
        server.files[ca.crl_path] = uzi.world.crl(
            ca, this_update=NOW - timedelta(days=2), next_update=NOW - timedelta(days=1)
        )
        cache, url = CrlCache(), server.base_url + ca.crl_path
        refresher = _started(cache, clock)
        try:
            cache.want([url])
            attempts = []
            for _ in range(3):
                assert refresher.refresh_now(timeout=30)
                failure = cache.failure(url)
                assert failure is not None and failure.retry_at is not None
                attempts.append(failure.attempts)
                clock.advance(failure.retry_at - failure.at)
            assert attempts == [1, 2, 3]
        finally:
            refresher.stop()


@pytest.mark.parametrize("attempts", range(1, 12))
def test_the_back_off_is_jittered_within_its_upper_half(attempts: int) -> None:
    ceiling = min(RETRY_MAX, RETRY_FIRST * 2 ** (attempts - 1))
    low, high = retry_delay(attempts, lambda: 0.0), retry_delay(attempts, lambda: 0.999999)
    assert max(RETRY_FIRST, ceiling / 2) == low
    assert ceiling - timedelta(milliseconds=100) < high <= ceiling


def test_the_refresher_wakes_by_itself_when_a_crl_comes_due(uzi: World) -> None:
    """No request and no minute-long interval: a CRL renewed at its refresh point."""
    now = datetime.now(UTC).replace(microsecond=0)
    ca = uzi.world.cas["Z"]
    with crl_server() as server:
        # refresh point: a quarter of the 8 s life before nextUpdate, 2 s from now
        server.files[ca.crl_path] = uzi.world.crl(
            ca, this_update=now - timedelta(seconds=4), next_update=now + timedelta(seconds=4)
        )
        cache = CrlCache()
        refresher = CrlRefresher(cache)
        refresher.start()
        try:
            cache.want([server.base_url + ca.crl_path])
            assert server.wait_for(lambda: server.hits >= 2, timeout=20), server.hits
        finally:
            refresher.stop()


def test_a_crl_fetched_within_its_margin_is_not_fetched_again_at_once(
    uzi: World, clock: Clock
) -> None:
    """A register serving a CRL already past its refresh point is asked again only after the
    margin (at most the interval), not in a loop."""
    ca = uzi.world.cas["Z"]
    with crl_server() as server:
        server.files[ca.crl_path] = uzi.world.crl(
            ca, this_update=NOW - timedelta(minutes=4), next_update=NOW + timedelta(minutes=1)
        )  # life 5 min: margin 75 s, refresh point 15 s ago
        cache = CrlCache()
        refresher = _started(cache, clock)
        try:
            cache.want([server.base_url + ca.crl_path])
            assert refresher.refresh_now(timeout=30)
            assert server.hits == 1
            clock.advance(timedelta(seconds=59))
            assert refresher.refresh_now(timeout=30)
            assert server.hits == 1
            clock.advance(timedelta(seconds=1))  # the interval (60 s) since the download
            assert refresher.refresh_now(timeout=30)
            assert server.hits == 2
        finally:
            refresher.stop()
