"""The responder's in-memory answers (``ocsp.kept``): what can still be served, not every
answer it ever gave; the store's change feed ends what it names; a feed that cannot be
read leaves the ``cache_seconds`` bound. The feed here is a list (a fault to inject);
tests/ocsp/test_refresh.py reads the real one, two responders on one database."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from ocsp.kept import FEED_SECONDS, AnswerCache, Ref

T0 = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
NEXT_UPDATE = T0 + timedelta(days=1)
REF: Ref = ("issuer", 7)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class Feed:
    """Changes as a list; ``fail`` makes every read raise (a database away)."""

    def __init__(self) -> None:
        self.changed: list[tuple[datetime, Ref]] = []
        self.fail = False
        self.reads = 0
        self.read = threading.Event()

    def changed_since(self, after: datetime) -> Sequence[tuple[Ref, datetime]]:
        self.reads += 1
        try:
            if self.fail:
                raise ConnectionError("the database is away")
            return [(ref, at) for at, ref in self.changed if at > after]
        finally:
            self.read.set()


def _cache(clock: Clock, feed: Feed | None = None, size: int = 100) -> AnswerCache[str]:
    return AnswerCache(size, clock=clock, cache_seconds=5, keep_seconds=60, changes=feed)


def _put(
    cache: AnswerCache[str], key: bytes, ref: Ref, clock: Clock, produced: datetime = T0
) -> None:
    """Keep *key*'s answer: the response of *ref* produced at *produced*, read now."""
    kept = cache.life(ref, produced, clock(), NEXT_UPDATE)
    assert kept is not None
    cache.put(key, kept, key.decode())


def _read_feed(cache: AnswerCache[str], feed: Feed, clock: Clock, key: bytes) -> str | None:
    """Ask for *key* once the feed is due, and wait for the read it starts."""
    clock.advance(FEED_SECONDS.total_seconds())
    feed.read.clear()
    cache.get(key)
    assert feed.read.wait(5)
    deadline = time.monotonic() + 5
    while cache._reading.locked() and time.monotonic() < deadline:  # applied, not just read
        time.sleep(0.001)
    return cache.get(key)


def test_without_a_feed_answers_live_cache_seconds() -> None:
    clock = Clock()
    cache = _cache(clock)
    _put(cache, b"a", REF, clock)
    clock.advance(4.9)
    assert cache.get(b"a") == "a"
    clock.advance(0.2)
    assert cache.get(b"a") is None


def test_with_the_feed_read_answers_live_keep_seconds() -> None:
    clock, feed = Clock(), Feed()
    cache = _cache(clock, feed)
    _put(cache, b"a", REF, clock)
    for _ in range(58):  # each second the feed is read, and names nothing
        assert _read_feed(cache, feed, clock, b"a") == "a"
    clock.advance(2.5)
    assert cache.get(b"a") is None  # keep_seconds (60) have passed


def test_the_feed_ends_every_form_of_a_changed_certificate() -> None:
    clock, feed = Clock(), Feed()
    cache = _cache(clock, feed)
    _put(cache, b"sha1 form", REF, clock)
    _put(cache, b"sha256 form", REF, clock)
    _put(cache, b"other", ("issuer", 8), clock)
    assert _read_feed(cache, feed, clock, b"other") == "other"
    clock.advance(10)  # past cache_seconds: alive only through the feed
    assert _read_feed(cache, feed, clock, b"sha1 form") == "sha1 form"
    feed.changed.append((clock(), REF))  # a revocation, signed on another node
    assert _read_feed(cache, feed, clock, b"sha1 form") is None
    assert cache.get(b"sha256 form") is None
    assert cache.get(b"other") == "other"


def test_only_a_newer_response_ends_what_is_kept() -> None:
    """The feed names each response produced within FEED_OVERLAP again at every read (its
    commit may come later than its producedAt): the response already kept is not a
    change; only one produced after it is."""
    clock, feed = Clock(), Feed()
    cache = _cache(clock, feed)
    feed.changed.append((T0, REF))  # the response about to be kept, just stored
    _put(cache, b"a", REF, clock, produced=T0)
    for _ in range(3):
        assert _read_feed(cache, feed, clock, b"a") == "a"
    feed.changed.append((clock(), REF))  # a revocation: a newer response
    assert _read_feed(cache, feed, clock, b"a") is None
    _put(cache, b"a", REF, clock, produced=clock())  # the revoked response, read
    for _ in range(3):
        assert _read_feed(cache, feed, clock, b"a") == "a"


def test_a_newer_response_read_through_one_form_ends_the_others() -> None:
    """The SHA-1 form keeps the good response; a revocation is stored and the SHA-256 form
    reads it before the feed names it. The SHA-1 form must not go on answering good: the
    feed then finds the revoked response already kept, and would end nothing."""
    clock, feed = Clock(), Feed()
    cache = _cache(clock, feed)
    _put(cache, b"sha1 form", REF, clock, produced=T0)
    clock.advance(0.5)
    revoked_at = clock()
    _put(cache, b"sha256 form", REF, clock, produced=revoked_at)
    assert cache.get(b"sha1 form") is None
    assert cache.get(b"sha256 form") == "sha256 form"
    feed.changed.append((revoked_at, REF))
    assert _read_feed(cache, feed, clock, b"sha256 form") == "sha256 form"
    # A read that raced and got the older response is answered once, and not kept.
    assert cache.life(REF, T0, clock(), NEXT_UPDATE) is None
    assert cache.get(b"sha256 form") == "sha256 form"


def test_a_feed_that_cannot_be_read_leaves_the_cache_seconds_bound() -> None:
    clock, feed = Clock(), Feed()
    cache = _cache(clock, feed)
    _put(cache, b"a", REF, clock)
    assert _read_feed(cache, feed, clock, b"a") == "a"
    feed.fail = True
    assert _read_feed(cache, feed, clock, b"a") == "a"  # the last good read is recent
    clock.advance(4)  # 5 s since the last read that succeeded
    assert cache.get(b"a") is None


def test_answers_no_longer_fresh_are_dropped_as_new_ones_come() -> None:
    """A soak asks once for each of thousands of certificates: each answer was kept, expired,
    until 100,000 of them (about 1 KB each) pushed the oldest out."""
    clock = Clock()
    cache = _cache(clock, size=100_000)
    for n in range(1_000):  # one each, never asked again
        _put(cache, b"request %d" % n, ("issuer", n), clock)
    clock.advance(6)
    _put(cache, b"request new", ("issuer", -1), clock)
    assert len(cache) == 1
    assert cache.get(b"request new") is not None


def test_a_life_pushed_out_of_the_feeds_reach_ends() -> None:
    """At most *size* certificates are followed: one pushed out is ended, never left
    to be served without the feed able to end it."""
    clock, feed = Clock(), Feed()
    cache = _cache(clock, feed, size=2)
    lives = [cache.life(("issuer", n), T0, clock(), NEXT_UPDATE) for n in range(3)]
    assert all(life is not None for life in lives)
    assert [cache.fresh(life) for life in lives if life is not None] == [False, True, True]


def test_nothing_is_kept_at_cache_seconds_0() -> None:
    cache: AnswerCache[str] = AnswerCache(100, clock=Clock(), cache_seconds=0)
    assert cache.life(REF, T0, T0, NEXT_UPDATE) is None
